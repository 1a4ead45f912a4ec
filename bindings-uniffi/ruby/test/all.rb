# frozen_string_literal: true

# Runs every Ruby test (make test-uniffi-ruby):
#   LD_LIBRARY_PATH=target/debug ruby -I target/uniffi/ruby -I bindings-uniffi/ruby/lib \
#     bindings-uniffi/ruby/test/all.rb
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require f }
