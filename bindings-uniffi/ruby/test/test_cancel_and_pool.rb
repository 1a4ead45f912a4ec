# frozen_string_literal: true

require_relative "helper"

# A download cancelled through its handle half-way, followed by checked operations; pool
# batches. The download is held half-way for sure: its progress listener blocks on its first
# call, and the server is frozen, until the test has cancelled (a fast server would otherwise
# fill the socket buffers and let the transfer run to its end before the cancellation is seen).
class TestCancelAndPool < FtpTestCase
  # Larger than what the loopback socket buffers hold while the transfer is held.
  BIG = 64 * 1024 * 1024
  FILES = 30

  # Signals the first progress, then holds the transfer (on the library's thread) until
  # released.
  class Holding
    attr_reader :first

    def initialize
      @started = Queue.new
      @release = Queue.new
      @first = nil
    end

    def on_progress(done, _total)
      return unless @first.nil?

      @first = done
      @started << true
      @release.pop
    end

    def wait_started
      Timeout.timeout(60) { @started.pop }
    end

    def release
      @release << true
    end
  end

  def checked_ops(session, dir, big, small)
    assert_equal small, session.read_bytes("#{dir}/small.bin")
    assert_equal big.bytesize, session.size("#{dir}/big.bin")
    assert_equal "/", session.pwd
    assert_equal big.byteslice(1000, 4000), session.read_range("#{dir}/big.bin", 1000, 4000)
  end

  each_server("cancel_handle_stops_a_download_mid_way") do |server|
    require "timeout"
    session = server.connect
    dir = fresh_dir(session, "cancel-#{server.kind}")
    big = FtpTest.data(BIG, 7)
    small = FtpTest.data(5000, 8)
    session.write_bytes("#{dir}/big.bin", big)
    session.write_bytes("#{dir}/small.bin", small)
    with_tmp do |tmp|
      2.times do |round|
        holding = Holding.new
        task = session.start_download("#{dir}/big.bin", File.join(tmp, "big-#{round}.bin"), nil, holding)
        holding.wait_started
        refute task.is_finished
        e = server.paused do
          task.cancel
          holding.release
          assert_raises(Ferroftp::FtpError::Cancelled) { round.zero? ? task.join_async : task.join }
        end
        assert_equal "cancelled", e.kind
        assert_operator holding.first, :<, BIG
        # No file and no temporary file left behind.
        assert_empty Dir.children(tmp)
        checked_ops(session, dir, big, small)
      end
      whole = File.join(tmp, "whole.bin")
      assert_equal BIG, session.start_download("#{dir}/big.bin", whole).join
      assert_equal big, File.binread(whole)
    end
  end

  # Records a batch's progress.
  class BatchRecorder
    attr_reader :seen

    def initialize
      @seen = []
    end

    def on_progress(progress)
      @seen << progress
    end
  end

  each_server("pool_batches") do |server|
    remote = fresh_dir(server.connect, "pool-#{server.kind}")
    payloads = (0...FILES).map { |i| FtpTest.data(i * 997 % 50_000, 300 + i) }
    with_tmp do |tmp|
      up = File.join(tmp, "up")
      down = File.join(tmp, "down")
      FileUtils.mkdir_p([up, down])
      payloads.each_with_index { |p, i| File.binwrite(File.join(up, "f#{i}.bin"), p) }
      pool = Ferroftp::Pool.new(server.url, 4, FtpTest::SETTINGS)
      progress = BatchRecorder.new
      items = (0...FILES).map { |i| Ferroftp::TransferItem.new(remote: "#{remote}/f#{i}.bin", local: File.join(up, "f#{i}.bin")) }
      result = pool.upload_many(items, nil, progress)
      assert_empty result.failed
      assert_equal FILES, result.ok.size
      assert_equal FILES, progress.seen.last.files_done
      assert_equal payloads.sum(&:bytesize), progress.seen.last.bytes_done

      items = (0...FILES).map { |i| Ferroftp::TransferItem.new(remote: "#{remote}/f#{i}.bin", local: File.join(down, "f#{i}.bin")) }
      items << Ferroftp::TransferItem.new(remote: "#{remote}/missing.bin", local: File.join(down, "missing.bin"))
      result = pool.start_download_many(items).join_async
      assert_equal FILES, result.ok.size
      assert_equal 1, result.failed.size
      failure = result.failed.first
      assert_equal "#{remote}/missing.bin", failure.remote
      assert_instance_of Ferroftp::FtpError::NotFound, failure.error
      assert_equal 550, failure.error.code
      payloads.each_with_index { |p, i| assert_equal p, File.binread(File.join(down, "f#{i}.bin")) }
      refute File.exist?(File.join(down, "missing.bin"))

      mirror = File.join(tmp, "mirror")
      tree = pool.download_tree_async(remote, mirror)
      assert_equal FILES, tree.ok.size
      payloads.each_with_index { |p, i| assert_equal p, File.binread(File.join(mirror, "f#{i}.bin")) }
      pool.shutdown
    end
  end
end
