package ferroftp

import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlin.random.Random

/** Settings every test session uses: generous, so that a busy CI machine never times out. */
val SETTINGS = mapOf("timeout" to "30", "connect_timeout" to "15")

/**
 * A real FTP server on loopback, started through tests/servers/serve.py as the other faces'
 * tests do: it prints one JSON line (host, port, user, password, root, ...) and serves until its
 * stdin closes, then removes its files.
 */
class TestServer(val kind: String, extra: List<String> = emptyList()) : AutoCloseable {
    private val process: Process
    val host: String
    val port: Int
    val user: String
    val password: String
    val root: Path
    val uid: Int
    val gid: Int
    private val pid: Long

    init {
        val repo = System.getProperty("ferroftp.root") ?: error("ferroftp.root is not set (see pom.xml)")
        val python = System.getProperty("ferroftp.python") ?: "$repo/.venv/bin/python"
        check(File(python).canExecute()) { "no $python: run `make setup` first" }
        process = ProcessBuilder(listOf(python, "$repo/tests/servers/serve.py", kind) + extra)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val line = process.inputStream.bufferedReader().readLine()
        if (line.isNullOrBlank()) {
            process.waitFor(30, TimeUnit.SECONDS)
            error("the $kind test server did not start (its message is above); run `make setup` (vsftpd needs root)")
        }
        val info = parseFlatJson(line)
        host = info.getValue("host")
        port = info.getValue("port").toInt()
        user = info.getValue("user")
        password = info.getValue("password")
        root = Path.of(info.getValue("root"))
        uid = info.getValue("uid").toInt()
        gid = info.getValue("gid").toInt()
        pid = info.getValue("pid").toLong()
    }

    /** The server's processes: the one in `pid` and all its descendants (from /proc). */
    private fun processes(): List<Long> {
        val children = mutableMapOf<Long, MutableList<Long>>()
        File("/proc").listFiles { f -> f.name.all(Char::isDigit) }.orEmpty().forEach { dir ->
            val stat = runCatching { File(dir, "stat").readText() }.getOrNull() ?: return@forEach
            val ppid = stat.substringAfterLast(')').trim().split(' ')[1].toLong()
            children.getOrPut(ppid) { mutableListOf() }.add(dir.name.toLong())
        }
        val found = mutableListOf(pid)
        var i = 0
        while (i < found.size) found.addAll(children[found[i++]].orEmpty())
        return found
    }

    private fun signal(name: String, pids: List<Long>) {
        ProcessBuilder(listOf("kill", "-$name") + pids.map(Long::toString)).start().waitFor(10, TimeUnit.SECONDS)
    }

    /** Freezes the server (SIGSTOP) for the block, so that a transfer stalls for sure. */
    fun <T> paused(block: () -> T): T {
        val frozen = processes()
        signal("STOP", frozen)
        try {
            return block()
        } finally {
            signal("CONT", frozen)
        }
    }

    /** Gives a file or directory under [root] to the server's FTP user. */
    fun own(path: Path) {
        java.nio.file.Files.setAttribute(path, "unix:uid", uid)
        java.nio.file.Files.setAttribute(path, "unix:gid", gid)
    }

    val url: String
        get() = "ftp://$user:$password@${if (':' in host) "[$host]" else host}:$port"

    /** A session with the tests' settings. */
    fun connect(): Session = Session.connect(url, SETTINGS)

    /** Stops the server: closes its stdin, waits for it to clean up, kills it if it hangs. */
    override fun close() {
        runCatching { process.outputStream.close() }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(10, TimeUnit.SECONDS)
        }
    }
}

/** The servers of a test run, each started on first use and stopped when the JVM exits. */
object Servers {
    private val running = mutableMapOf<String, TestServer>()

    init {
        Runtime.getRuntime().addShutdownHook(Thread { stopAll() })
    }

    @Synchronized
    fun get(kind: String): TestServer = running.getOrPut(kind) { TestServer(kind) }

    @Synchronized
    fun stopAll() {
        running.values.forEach { it.close() }
        running.clear()
    }
}

/** The values of a flat JSON object of strings, numbers and booleans (serve.py's line). */
fun parseFlatJson(line: String): Map<String, String> {
    val pair = Regex(""""([^"]+)"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([^,}\s]+))""")
    return pair.findAll(line).associate { m ->
        val (key, quoted, bare) = m.destructured
        key to if (m.groups[2] != null) quoted.replace("\\\\", "\\").replace("\\\"", "\"") else bare
    }
}

/** Deterministic pseudo-random bytes. */
fun data(n: Int, seed: Long): ByteArray = Random(seed).nextBytes(n)

/** A fresh, empty remote directory for a test (the server's root goes away with the server). */
fun Session.freshDir(name: String): String {
    val dir = "/kt-$name"
    if (exists(dir)) rmdir(dir, true)
    mkdir(dir, false)
    return dir
}
