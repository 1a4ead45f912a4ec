# frozen_string_literal: true

require_relative "helper"

# ONE session shared by 16 threads with every byte verified; a missing file; the rest of the
# operations; errors.
class TestSessions < FtpTestCase
  THREADS = 16
  ROUNDS = 3

  # One thread's work; returns the operations done. Blocking and async methods alternate (in
  # Ruby an async method blocks its thread too, without holding the GVL).
  def thread_work(session, remote, tmp, n)
    rng = Random.new(1000 + n)
    mine = "#{remote}/w#{n}"
    session.mkdir(mine, false)
    ops = 1
    ROUNDS.times do |r|
      payload = FtpTest.data(rng.rand(0...150_000), (1000 * n) + r)
      name = "#{mine}/f#{r}.bin"
      assert_equal payload.bytesize, session.write_bytes(name, payload)
      assert_equal payload, session.read_bytes(name)
      assert_equal payload.bytesize, session.size_async(name)
      assert session.exists(name)
      local = File.join(tmp, "w#{n}-f#{r}.bin")
      assert_equal payload.bytesize, session.download(name, local)
      assert_equal payload, File.binread(local)
      reversed = payload.reverse
      up = File.join(tmp, "w#{n}-g#{r}.bin")
      File.binwrite(up, reversed)
      other = "#{mine}/g#{r}.bin"
      assert_equal reversed.bytesize, session.upload_async(up, other)
      assert_equal reversed, session.read_bytes_async(other)
      entries = session.list(mine).to_h { |e| [e.name, e] }
      assert_equal payload.bytesize, entries.fetch("f#{r}.bin").size
      assert_equal Ferroftp::EntryKind::FILE, entries.fetch("f#{r}.bin").kind
      session.rename(other, "#{mine}/h.bin")
      head = [1000, reversed.bytesize].min
      assert_equal reversed.byteslice(0, head), session.read_range("#{mine}/h.bin", 0, head)
      session.remove_async("#{mine}/h.bin")
      refute session.exists("#{mine}/h.bin")
      ops += 13
    end
    assert_equal (0...ROUNDS).map { |r| "f#{r}.bin" }, session.names(mine).sort
    ops + 1
  end

  each_server("sixteen_threads_share_one_session") do |server|
    session = server.connect
    remote = fresh_dir(session, "threads-#{server.kind}")
    with_tmp do |tmp|
      threads = (0...THREADS).map { |n| Thread.new { thread_work(session, remote, tmp, n) } }
      assert_equal THREADS * ((ROUNDS * 13) + 2), threads.sum(&:value)
    end
    assert_equal (0...THREADS).map { |n| "w#{n}" }.sort, session.names(remote).sort
    session.noop
  end

  each_server("missing_file_is_not_found_550") do |server|
    session = server.connect
    dir = fresh_dir(session, "missing-#{server.kind}")
    missing = "#{dir}/missing.bin"
    with_tmp do |tmp|
      errors = [
        assert_raises(Ferroftp::FtpError::NotFound) { session.size(missing) },
        assert_raises(Ferroftp::FtpError::NotFound) { session.read_bytes(missing) },
        assert_raises(Ferroftp::FtpError::NotFound) { session.read_bytes_async(missing) },
        assert_raises(Ferroftp::FtpError::NotFound) { session.download(missing, File.join(tmp, "x")) },
        assert_raises(Ferroftp::FtpError::NotFound) do
          session.start_download(missing, File.join(tmp, "y")).join_async
        end
      ]
      errors.each do |e|
        assert_equal "not-found", e.kind
        assert_equal 550, e.code
        refute e.may_have_taken_effect
        refute e.retryable
        assert_includes e.detail, "550"
      end
      assert_empty Dir.children(tmp)
    end
    session.noop
    session.write_bytes("#{dir}/there.bin", "\x01\x02\x03".b)
    assert_equal 3, session.size("#{dir}/there.bin")
  end

  # Records progress, and the threads it came on.
  class Recorder
    attr_reader :seen, :threads

    def initialize
      @seen = []
      @threads = []
      @lock = Mutex.new
    end

    def on_progress(done, total)
      @lock.synchronize do
        @seen << [done, total]
        @threads << Thread.current unless @threads.include?(Thread.current)
      end
    end
  end

  each_server("operations") do |server|
    session = server.connect
    dir = fresh_dir(session, "ops-#{server.kind}")
    session.mkdir("#{dir}/a/b", true)
    session.cwd("#{dir}/a")
    assert_equal "#{dir}/a", session.pwd
    session.cwd("/")
    payload = FtpTest.data((2 * 1024 * 1024) + 5, 42)
    with_tmp do |tmp|
      src = File.join(tmp, "src.bin")
      File.binwrite(src, payload)
      progress = Recorder.new
      options = Ferroftp::UploadOptions.new(atomic: true)
      assert_equal payload.bytesize, session.upload(src, "#{dir}/p.bin", options, progress)
      # A blocking call reports progress on the calling thread.
      assert_equal [Thread.current], progress.threads
      assert_equal payload.bytesize, progress.seen.last[0]
      progress = Recorder.new
      dst = File.join(tmp, "dst.bin")
      assert_equal payload.bytesize, session.download_async("#{dir}/p.bin", dst, nil, progress)
      assert_equal payload, File.binread(dst)
      assert_equal payload.bytesize, progress.seen.last[0]
      assert(progress.seen.each_cons(2).all? { |a, b| a[0] <= b[0] })
    end
    entry = session.stat("#{dir}/p.bin")
    assert_equal Ferroftp::EntryKind::FILE, entry.kind
    assert_equal payload.bytesize, entry.size
    time = Time.utc(2021, 3, 4, 5, 6, 7)
    session.set_modified("#{dir}/p.bin", time)
    assert_equal time, session.modified("#{dir}/p.bin")
    reply = session.quote("NOOP")
    assert_equal 200, reply.code
    session.rename("#{dir}/p.bin", "#{dir}/a/q.bin")
    assert_equal %w[b q.bin], session.names("#{dir}/a").sort
    session.rmdir("#{dir}/a", true)
    assert_empty session.list_async(dir)
    session.quit
    e = assert_raises(Ferroftp::FtpError::Closed) { session.pwd }
    assert_equal "closed", e.kind
  end

  def test_errors_and_settings
    e = assert_raises(Ferroftp::FtpError::Connect) { Ferroftp::Session.connect("ftp://127.0.0.1:1", FtpTest::SETTINGS) }
    assert_equal "connect", e.kind
    assert_nil e.code
    server = FtpTest.server("pyftpdlib")
    e = assert_raises(Ferroftp::FtpError::Auth) do
      Ferroftp::Session.connect("ftp://#{server.user}:wrong@#{server.host}:#{server.port}", FtpTest::SETTINGS)
    end
    assert_equal 530, e.code
    { "timeout" => "soon", "data_mode" => "fast", "nope" => "1" }.each do |name, value|
      e = assert_raises(Ferroftp::FtpError::InvalidInput) { Ferroftp::Session.connect("ftp://127.0.0.1:1", name => value) }
      assert_equal "invalid-input", e.kind
    end
    names = Ferroftp.settings.map(&:name)
    assert_includes names, "data_mode"
    assert_equal 13, Ferroftp.error_kinds.size
  end
end
