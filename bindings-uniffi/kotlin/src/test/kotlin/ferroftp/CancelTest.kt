package ferroftp

import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/**
 * Cancellation mid-transfer, each followed by checked operations on the same session. The
 * transfer is held half-way for sure: its progress listener blocks on its first call, and the
 * server is frozen, until the test has cancelled (a fast server would otherwise fill the socket
 * buffers and let the transfer run to its end before the cancellation is seen).
 */
class CancelTest {
    companion object {
        // Larger than what the loopback socket buffers hold while the transfer is held.
        const val BIG = 64 * 1024 * 1024
    }

    /** A listener that signals the first progress and then holds the transfer until released. */
    private class Holding : ProgressListener {
        val started = CountDownLatch(1)
        val release = CountDownLatch(1)
        @Volatile var first: ULong? = null

        override fun onProgress(done: ULong, total: ULong?) {
            if (first == null) first = done
            started.countDown()
            release.await(60, TimeUnit.SECONDS)
        }
    }

    private fun checkedOps(s: Session, dir: String, big: ByteArray, small: ByteArray) {
        assertArrayEquals(small, s.readBytes("$dir/small.bin"))
        assertEquals(big.size.toULong(), s.size("$dir/big.bin"))
        assertEquals("/", s.pwd())
        assertArrayEquals(big.copyOfRange(1000, 5000), s.readRange("$dir/big.bin", 1000u, 4000u))
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun cancelHandleStopsADownloadMidWay(kind: String, @TempDir tmp: Path) {
        val server = Servers.get(kind)
        server.connect().use { s ->
            val dir = s.freshDir("cancel-$kind")
            val big = data(BIG, 7)
            val small = data(5000, 8)
            s.writeBytes("$dir/big.bin", big)
            s.writeBytes("$dir/small.bin", small)
            for (round in 0 until 3) {
                val holding = Holding()
                val local = tmp.resolve("big-$round.bin")
                val task = s.startDownload("$dir/big.bin", local.toString(), null, holding)
                task.use {
                    assertTrue(holding.started.await(60, TimeUnit.SECONDS), "no progress")
                    assertFalse(task.isFinished())
                    val e = server.paused {
                        task.cancel()
                        holding.release.countDown()
                        if (round % 2 == 0) {
                            assertThrows<FtpException.Cancelled> { task.join() }
                        } else {
                            assertThrows<FtpException.Cancelled> { runBlocking { task.joinAsync() } }
                        }
                    }
                    assertEquals("cancelled", e.kind)
                    assertTrue(holding.first!! < BIG.toULong(), "held at ${holding.first}")
                }
                // Nothing lost, nothing half-written left behind: no file, no temporary file.
                assertEquals(emptyList<Path>(), Files.list(tmp).use { it.toList() })
                checkedOps(s, dir, big, small)
            }
            // The same handle, not cancelled: the download completes.
            val local = tmp.resolve("whole.bin")
            s.startDownload("$dir/big.bin", local.toString()).use { task ->
                assertEquals(BIG.toULong(), task.join())
                assertTrue(task.isFinished())
            }
            assertArrayEquals(big, Files.readAllBytes(local))
        }
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun cancelledCoroutineAbortsTheTransfer(kind: String, @TempDir tmp: Path) {
        val server = Servers.get(kind)
        server.connect().use { s ->
            val dir = s.freshDir("coroutine-cancel-$kind")
            val big = data(BIG, 9)
            val small = data(3000, 10)
            s.writeBytes("$dir/big.bin", big)
            s.writeBytes("$dir/small.bin", small)
            val holding = Holding()
            runBlocking {
                val job = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                    s.downloadAsync("$dir/big.bin", tmp.resolve("big.bin").toString(), null, holding)
                }
                assertTrue(holding.started.await(60, TimeUnit.SECONDS), "no progress")
                server.paused {
                    job.cancel()
                    holding.release.countDown()
                    runBlocking { job.join() }
                }
                assertTrue(job.isCancelled)
            }
            checkedOps(s, dir, big, small)
            assertFalse(Files.exists(tmp.resolve("big.bin")))
        }
    }
}
