package ferroftp

import java.nio.file.Files
import java.nio.file.Path
import java.time.Instant
import java.util.Collections
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** The rest of the session's operations, blocking and async, with their results checked. */
class OperationsTest {
    private class Progress : ProgressListener {
        val seen: MutableList<Pair<ULong, ULong?>> = Collections.synchronizedList(mutableListOf())
        val threads: MutableSet<Thread> = Collections.synchronizedSet(mutableSetOf())

        override fun onProgress(done: ULong, total: ULong?) {
            seen.add(done to total)
            threads.add(Thread.currentThread())
        }
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun everyOperation(kind: String, @TempDir tmp: Path) {
        Servers.get(kind).connect().use { s ->
            val dir = s.freshDir("ops-$kind")
            s.mkdir("$dir/a/b/c", true)
            assertTrue(s.exists("$dir/a/b/c"))
            s.cwd("$dir/a")
            assertEquals("$dir/a", s.pwd())
            s.cwd("/")
            val payload = data(3 * 1024 * 1024 + 17, 42)
            val src = tmp.resolve("src.bin")
            Files.write(src, payload)

            // Progress: blocking calls report on the calling thread, to the exact total.
            val upProgress = Progress()
            assertEquals(payload.size.toULong(), s.upload(src.toString(), "$dir/p.bin", UploadOptions(atomic = true), upProgress))
            assertEquals(setOf(Thread.currentThread()), upProgress.threads)
            assertEquals(payload.size.toULong(), upProgress.seen.last().first)
            val downProgress = Progress()
            val dst = tmp.resolve("dst.bin")
            assertEquals(payload.size.toULong(), s.download("$dir/p.bin", dst.toString(), DownloadOptions(verify = true), downProgress))
            assertArrayEquals(payload, Files.readAllBytes(dst))
            assertEquals(setOf(Thread.currentThread()), downProgress.threads)
            // The total is known when the server announces it (vsftpd does, pyftpdlib does not).
            val (done, total) = downProgress.seen.last()
            assertEquals(payload.size.toULong(), done)
            assertTrue(total == null || total == done, "total $total")
            assertTrue(downProgress.seen.zipWithNext().all { (a, b) -> a.first <= b.first })
            // Async: on the library's threads.
            val asyncProgress = Progress()
            runBlocking { s.downloadAsync("$dir/p.bin", tmp.resolve("dst2.bin").toString(), null, asyncProgress) }
            assertArrayEquals(payload, Files.readAllBytes(tmp.resolve("dst2.bin")))
            assertFalse(Thread.currentThread() in asyncProgress.threads)
            assertEquals(payload.size.toULong(), asyncProgress.seen.last().first)

            val entry = s.stat("$dir/p.bin")
            assertEquals(EntryKind.FILE, entry.kind)
            assertEquals(payload.size.toULong(), entry.size)
            assertEquals(EntryKind.DIR, s.stat("$dir/a").kind)
            val listing = s.list(dir).associateBy { it.name }
            assertEquals(setOf("a", "p.bin"), listing.keys)
            assertEquals(EntryKind.DIR, listing.getValue("a").kind)
            assertEquals("$dir/p.bin", listing.getValue("p.bin").path)
            assertNotNull(listing.getValue("p.bin").modified)

            val when_ = Instant.parse("2021-03-04T05:06:07Z")
            s.setModified("$dir/p.bin", when_)
            assertEquals(when_, s.modified("$dir/p.bin"))
            assertEquals(when_, runBlocking { s.modifiedAsync("$dir/p.bin") })

            val reply = s.quote("NOOP")
            assertEquals(200.toUShort(), reply.code)
            assertEquals(500.toUShort() <= s.quote("NO-SUCH-COMMAND").code, true)

            s.rename("$dir/p.bin", "$dir/a/q.bin")
            assertEquals(listOf("q.bin", "b"), s.names("$dir/a").sortedDescending())
            s.rmdir("$dir/a", true)
            assertFalse(s.exists("$dir/a"))
            assertEquals(emptyList<Entry>(), runBlocking { s.listAsync(dir) })
            runBlocking {
                s.mkdirAsync("$dir/x", false)
                s.cwdAsync("$dir/x")
                assertEquals("$dir/x", s.pwdAsync())
                s.cwdAsync("/")
                s.rmdirAsync("$dir/x", false)
                assertFalse(s.existsAsync("$dir/x"))
            }
        }
    }
}
