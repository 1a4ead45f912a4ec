package ferroftp

import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** ONE session shared by 16 threads (blocking methods) and by 100 coroutines (async methods). */
class ConcurrencyTest {
    companion object {
        const val THREADS = 16
        const val ROUNDS = 4
        const val COROUTINES = 100
    }

    /** One thread's work: every result checked byte for byte; returns the operations done. */
    private fun threadWork(s: Session, remote: String, tmp: Path, n: Int): Int {
        val rng = Random(1000 + n)
        val mine = "$remote/w$n"
        s.mkdir(mine, false)
        var ops = 1
        for (r in 0 until ROUNDS) {
            val payload = data(rng.nextInt(0, 150_000), 1000L * n + r)
            val name = "$mine/f$r.bin"
            assertEquals(payload.size.toULong(), s.writeBytes(name, payload))
            assertArrayEquals(payload, s.readBytes(name))
            assertEquals(payload.size.toULong(), s.size(name))
            assertTrue(s.exists(name))
            val local = tmp.resolve("w$n-f$r.bin")
            assertEquals(payload.size.toULong(), s.download(name, local.toString()))
            assertArrayEquals(payload, Files.readAllBytes(local))
            val reversed = payload.reversedArray()
            val up = tmp.resolve("w$n-g$r.bin")
            Files.write(up, reversed)
            val other = "$mine/g$r.bin"
            assertEquals(reversed.size.toULong(), s.upload(up.toString(), other))
            assertArrayEquals(reversed, s.readBytes(other))
            val entries = s.list(mine).associateBy { it.name }
            assertEquals(payload.size.toULong(), entries.getValue("f$r.bin").size)
            assertEquals(EntryKind.FILE, entries.getValue("f$r.bin").kind)
            s.rename(other, "$mine/h.bin")
            val head = minOf(1000, reversed.size)
            assertArrayEquals(reversed.copyOf(head), s.readRange("$mine/h.bin", 0u, head.toULong()))
            s.remove("$mine/h.bin")
            assertFalse(s.exists("$mine/h.bin"))
            ops += 13
        }
        assertEquals((0 until ROUNDS).map { "f$it.bin" }, s.names(mine).sorted())
        return ops + 1
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun sixteenThreadsShareOneSession(kind: String, @TempDir tmp: Path) {
        Servers.get(kind).connect().use { s ->
            val remote = s.freshDir("threads-$kind")
            val pool = Executors.newFixedThreadPool(THREADS)
            try {
                val results = pool.invokeAll((0 until THREADS).map { n -> Callable { threadWork(s, remote, tmp, n) } })
                val ops = results.sumOf { it.get(10, TimeUnit.MINUTES) }
                assertEquals(THREADS * (ROUNDS * 13 + 2), ops)
            } finally {
                pool.shutdownNow()
            }
            assertEquals((0 until THREADS).map { "w$it" }.sorted(), s.names(remote).sorted())
            s.noop()
        }
    }

    /** One coroutine's work, through the async methods. */
    private suspend fun coroutineWork(s: Session, remote: String, tmp: Path, n: Int): Int {
        val payload = data(Random(5000 + n).nextInt(0, 60_000), 5000L + n)
        val name = "$remote/t$n.bin"
        assertEquals(payload.size.toULong(), s.writeBytesAsync(name, payload))
        assertArrayEquals(payload, s.readBytesAsync(name))
        assertEquals(payload.size.toULong(), s.sizeAsync(name))
        assertTrue(s.existsAsync(name))
        val entry = s.listAsync(remote).first { it.name == "t$n.bin" }
        assertEquals(payload.size.toULong(), entry.size)
        s.renameAsync(name, "$remote/r$n.bin")
        assertFalse(s.existsAsync(name))
        val local = tmp.resolve("r$n.bin")
        assertEquals(payload.size.toULong(), s.downloadAsync("$remote/r$n.bin", local.toString()))
        assertArrayEquals(payload, Files.readAllBytes(local))
        s.removeAsync("$remote/r$n.bin")
        return 10
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun hundredCoroutinesShareOneSession(kind: String, @TempDir tmp: Path) {
        val s = runBlocking { Session.connectAsync(Servers.get(kind).url, SETTINGS) }
        s.use {
            val remote = s.freshDir("coroutines-$kind")
            val done = runBlocking(Dispatchers.Default) {
                (0 until COROUTINES).map { n -> async { coroutineWork(s, remote, tmp, n) } }.awaitAll()
            }
            assertEquals(COROUTINES * 10, done.sum())
            assertEquals(emptyList<String>(), s.names(remote))
            runBlocking { s.noopAsync() }
        }
    }
}
