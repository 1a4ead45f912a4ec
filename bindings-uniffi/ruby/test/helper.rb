# frozen_string_literal: true

# Test harness of the Ruby face: real FTP servers on loopback, started through
# tests/servers/serve.py as the other faces' tests do (one JSON line, then it serves until its
# stdin closes and removes its files). Each kind is started once, on first use, and stopped when
# the run ends, pass or fail. Run by `make test-uniffi-ruby` (see all.rb).
require "ferroftp/uniffi"
require "fileutils"
require "json"
require "minitest/autorun"
require "tmpdir"

module FtpTest
  ROOT = File.expand_path("../../..", __dir__)
  KINDS = %w[pyftpdlib vsftpd].freeze
  # Generous, so that a busy CI machine never times out.
  SETTINGS = { "timeout" => "30", "connect_timeout" => "15" }.freeze

  # One server started through serve.py.
  class Server
    attr_reader :kind, :host, :port, :user, :password, :root

    def initialize(kind)
      @kind = kind
      python = ENV.fetch("FERROFTP_PYTHON", File.join(ROOT, ".venv/bin/python"))
      raise "no #{python}: run `make setup` first" unless File.executable?(python)

      @io = IO.popen([python, File.join(ROOT, "tests/servers/serve.py"), kind], "r+")
      line = @io.gets
      if line.nil? || line.strip.empty?
        @io.close
        raise "the #{kind} test server did not start (its message is above); run `make setup` " \
              "(vsftpd needs root)"
      end
      info = JSON.parse(line)
      @host = info.fetch("host")
      @port = info.fetch("port")
      @user = info.fetch("user")
      @password = info.fetch("password")
      @root = info.fetch("root")
      @pid = info.fetch("pid")
    end

    # The server's processes: the one in `pid` and all its descendants (from /proc).
    def processes
      children = Hash.new { |h, k| h[k] = [] }
      Dir["/proc/[0-9]*/stat"].each do |stat|
        fields = File.read(stat).rpartition(")").last.split
        children[fields[1].to_i] << File.basename(File.dirname(stat)).to_i
      rescue SystemCallError
        next
      end
      found = [@pid]
      found.each { |pid| found.concat(children[pid]) }
      found
    end

    # Freezes the server (SIGSTOP) for the block, so that a transfer stalls for sure.
    def paused
      frozen = processes
      frozen.each { |pid| Process.kill("STOP", pid) rescue nil }
      yield
    ensure
      frozen&.each { |pid| Process.kill("CONT", pid) rescue nil }
    end

    def url
      h = @host.include?(":") ? "[#{@host}]" : @host
      "ftp://#{@user}:#{@password}@#{h}:#{@port}"
    end

    def connect
      Ferroftp::Session.connect(url, SETTINGS)
    end

    # Closes the server's stdin and waits for it to clean up (killing it if it hangs).
    def stop
      @io.close_write
      pid = @io.pid
      deadline = Time.now + 30
      sleep 0.05 while Process.waitpid(pid, Process::WNOHANG).nil? && Time.now < deadline
      Process.kill("KILL", pid) if Time.now >= deadline
      @io.close
    rescue Errno::ECHILD, Errno::ESRCH, IOError
      nil
    end
  end

  @servers = {}
  @lock = Mutex.new

  def self.server(kind)
    @lock.synchronize { @servers[kind] ||= Server.new(kind) }
  end

  def self.stop_all
    @lock.synchronize do
      @servers.each_value(&:stop)
      @servers.clear
    end
  end

  Minitest.after_run { stop_all }

  # Deterministic pseudo-random bytes.
  def self.data(size, seed)
    Random.new(seed).bytes(size)
  end

  # Defines `name_pyftpdlib` and `name_vsftpd`, each running the block with its server.
  module PerServer
    def each_server(name, &block)
      KINDS.each do |kind|
        define_method("test_#{name}_#{kind}") { instance_exec(FtpTest.server(kind), &block) }
      end
    end
  end

  # Helpers of every test.
  module Helpers
    # A fresh, empty remote directory (the server's root goes away with the server).
    def fresh_dir(session, name)
      dir = "/rb-#{name}"
      session.rmdir(dir, true) if session.exists(dir)
      session.mkdir(dir, false)
      dir
    end

    # A local temporary directory for the block, removed after it, pass or fail.
    def with_tmp(&block)
      Dir.mktmpdir("ferroftp-rb-", &block)
    end
  end
end

# The base class of the Ruby tests.
class FtpTestCase < Minitest::Test
  extend FtpTest::PerServer
  include FtpTest::Helpers
end
