package ferroftp

import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** Errors keep the core's kind, reply code and facts; the session stays usable after them. */
class ErrorsTest {
    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun missingFileIsNotFoundWith550(kind: String, @TempDir tmp: Path) {
        Servers.get(kind).connect().use { s ->
            val dir = s.freshDir("missing-$kind")
            val missing = "$dir/missing.bin"
            val errors = listOf(
                assertThrows<FtpException.NotFound> { s.size(missing) },
                assertThrows<FtpException.NotFound> { s.readBytes(missing) },
                assertThrows<FtpException.NotFound> { s.download(missing, tmp.resolve("x").toString()) },
                assertThrows<FtpException.NotFound> { runBlocking { s.readBytesAsync(missing) } },
                assertThrows<FtpException.NotFound> { s.startDownload(missing, tmp.resolve("y").toString()).use { it.join() } },
            )
            for (e in errors) {
                assertEquals("not-found", e.kind)
                assertEquals(550.toUShort(), e.code)
                assertFalse(e.mayHaveTakenEffect)
                assertFalse(e.retryable)
                assertTrue("550" in e.detail, e.detail)
            }
            assertFalse(s.exists(missing))
            assertEquals(emptyList<Path>(), Files.list(tmp).use { it.toList() })
            s.noop()
            s.writeBytes("$dir/there.bin", byteArrayOf(1, 2, 3))
            assertEquals(3UL, s.size("$dir/there.bin"))
        }
    }

    @Test
    fun wrongPasswordIsAuth() {
        val server = Servers.get("pyftpdlib")
        val e = assertThrows<FtpException.Auth> {
            Session.connect("ftp://${server.user}:wrong@${server.host}:${server.port}", SETTINGS)
        }
        assertEquals("auth", e.kind)
        assertEquals(530.toUShort(), e.code)
    }

    @Test
    fun closedPortIsConnect() {
        val e = assertThrows<FtpException.Connect> { Session.connect("ftp://127.0.0.1:1", SETTINGS) }
        assertEquals("connect", e.kind)
        assertNull(e.code)
        assertTrue(e.retryable)
    }

    @Test
    fun settingsAreTheCores() {
        val names = settings().map { it.name }
        assertTrue(names.containsAll(listOf("timeout", "connect_timeout", "data_mode", "retries", "tls")), "$names")
        val dataMode = settings().first { it.name == "data_mode" }
        assertEquals("choice", dataMode.kind)
        assertEquals(listOf("auto", "epsv", "pasv", "active"), dataMode.choices)
        assertEquals("auto", dataMode.defaultValue)
        for ((name, value) in listOf("timeout" to "soon", "data_mode" to "fast", "nope" to "1", "verify" to "maybe")) {
            val e = assertThrows<FtpException.InvalidInput> { Session.connect("ftp://127.0.0.1:1", mapOf(name to value)) }
            assertEquals("invalid-input", e.kind)
            assertTrue(name in e.detail || value in e.detail, e.detail)
        }
        assertThrows<FtpException.InvalidInput> { Session.connect("http://example.com/") }
        assertEquals(13, errorKinds().size)
        assertEquals("not-found", errorKinds()[3])
    }

    @ParameterizedTest
    @ValueSource(strings = ["pyftpdlib", "vsftpd"])
    fun closedSessionIsClosed(kind: String) {
        val s = Servers.get(kind).connect()
        s.use {
            s.noop()
            s.quit()
            val e = assertThrows<FtpException.Closed> { s.pwd() }
            assertEquals("closed", e.kind)
        }
    }
}
