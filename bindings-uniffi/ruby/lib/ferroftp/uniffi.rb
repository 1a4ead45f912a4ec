# frozen_string_literal: true

# Loads the Ruby bindings that uniffi generates (`ferroftp.rb`, written by `make bindings` to
# target/uniffi/ruby) with the two things they need here:
#
# - `io/wait`: the generated async calls wait on a pipe with IO#wait_readable, which Ruby 3.1
#   (Debian 12's) only has once io/wait is loaded.
# - every call into libferroftp_uniffi releases Ruby's global lock (ruby-ffi's
#   `blocking: true`). uniffi attaches its functions without it, so a blocking call such as
#   `session.download` would hold the lock for the whole transfer: other Ruby threads could not
#   run meanwhile, and a callback into Ruby from one of the library's threads (the progress of
#   a background task, say) would wait for the lock forever.
#
# Use: put this directory and the generated one on the load path, the library on
# LD_LIBRARY_PATH, then `require "ferroftp/uniffi"` (see bindings-uniffi/README.md).
require "io/wait"
require "ffi"

module Ferroftp
  # The module the generated code attaches the library's functions to, made first so that each
  # of them is attached as a blocking call.
  module UniFFILib
    extend FFI::Library

    def self.attach_function(name, func, args, returns = nil, options = nil)
      if returns.nil? || returns.is_a?(Hash)
        # attach_function :name, [args], :returns[, options]
        super(name, func, args, (returns || {}).merge(blocking: true))
      else
        super(name, func, args, returns, (options || {}).merge(blocking: true))
      end
    end
  end
end

require "ferroftp"
