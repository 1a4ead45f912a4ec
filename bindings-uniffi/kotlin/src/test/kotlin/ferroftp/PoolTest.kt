package ferroftp

import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** Batches through a pool: up, down, a missing file failing alone, trees, background tasks. */
class PoolTest {
    companion object {
        const val FILES = 40
    }

    private class Recording : BatchProgressListener {
        val seen: MutableList<BatchProgress> = Collections.synchronizedList(mutableListOf())
        val threads: MutableSet<Thread> = Collections.synchronizedSet(mutableSetOf())

        override fun onProgress(progress: BatchProgress) {
            seen.add(progress)
            threads.add(Thread.currentThread())
        }
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun batchUpAndDown(kind: String, @TempDir tmp: Path) {
        val server = Servers.get(kind)
        server.connect().use { s -> s.freshDir("pool-$kind") }
        val remote = "/kt-pool-$kind"
        val up = Files.createDirectory(tmp.resolve("up"))
        val down = Files.createDirectory(tmp.resolve("down"))
        val payloads = (0 until FILES).map { data(it * 997 % 50_000, 300L + it) }
        payloads.forEachIndexed { i, p -> Files.write(up.resolve("f$i.bin"), p) }
        Pool(server.url, 4u, SETTINGS).use { pool ->
            // Blocking: the progress comes on the calling thread.
            val progress = Recording()
            val uploaded = pool.uploadMany(
                (0 until FILES).map { TransferItem("$remote/f$it.bin", up.resolve("f$it.bin").toString()) },
                null,
                progress,
            )
            assertEquals(emptyList<BatchFailure>(), uploaded.failed)
            assertEquals(FILES, uploaded.ok.size)
            assertEquals(setOf(Thread.currentThread()), progress.threads)
            val last = progress.seen.last()
            assertEquals(FILES.toULong(), last.filesDone)
            assertEquals(payloads.sumOf { it.size }.toULong(), last.bytesDone)
            assertEquals(last.bytesDone, last.bytesTotal)
            assertTrue(progress.seen.zipWithNext().all { (a, b) -> a.bytesDone <= b.bytesDone })

            // Async, with one missing file that fails alone.
            val items = (0 until FILES).map { TransferItem("$remote/f$it.bin", down.resolve("f$it.bin").toString()) } +
                TransferItem("$remote/missing.bin", down.resolve("missing.bin").toString())
            val downloaded = runBlocking { pool.downloadManyAsync(items) }
            assertEquals(FILES, downloaded.ok.size)
            assertEquals(1, downloaded.failed.size)
            val failure = downloaded.failed.single()
            assertEquals("$remote/missing.bin", failure.remote)
            val error = failure.error
            assertTrue(error is FtpException.NotFound, "$error")
            assertEquals(550.toUShort(), (error as FtpException.NotFound).code)
            payloads.forEachIndexed { i, p -> assertArrayEquals(p, Files.readAllBytes(down.resolve("f$i.bin"))) }
            assertTrue(!Files.exists(down.resolve("missing.bin")))
            assertTrue(pool.openSessions() in 1UL..4UL)
            assertEquals(4UL, pool.limit())

            // Trees, in the background.
            val mirror = tmp.resolve("mirror")
            pool.startDownloadTree(remote, mirror.toString()).use { task ->
                val tree = task.join()
                assertEquals(FILES, tree.ok.size)
                assertTrue(task.isFinished())
            }
            payloads.forEachIndexed { i, p -> assertArrayEquals(p, Files.readAllBytes(mirror.resolve("f$i.bin"))) }
            val copy = pool.uploadTree(up.toString(), "$remote-copy")
            assertEquals(FILES, copy.ok.size)
            pool.shutdown()
        }
        server.connect().use { s ->
            payloads.forEachIndexed { i, p -> assertArrayEquals(p, s.readBytes("$remote-copy/f$i.bin")) }
        }
    }
}
