package ferroftp

import java.nio.file.Files
import java.security.SecureRandom
import kotlin.system.measureNanoTime
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test

/**
 * The Kotlin face's benchmark rows (not part of `make test`: `make bench-uniffi`, which builds
 * the release library): a NOOP loop (per-call overhead) and a 1 GiB download to /dev/null
 * (throughput) through the blocking API against vsftpd on loopback, interleaved with the Rust
 * core's own client (core/examples/bench_client.rs, the same workloads) on the same server, and
 * the ratios against the goals (per call ≤ 1.5× the core's, throughput ≥ 0.9×).
 *
 * System properties: ferroftp.bench.client (the bench_client binary; without it only the Kotlin
 * rows), ferroftp.bench.noops (5000), ferroftp.bench.mib (1024), ferroftp.bench.reps (3).
 */
@Tag("bench")
class BenchTest {
    private val noops = System.getProperty("ferroftp.bench.noops", "5000").toInt()
    private val mib = System.getProperty("ferroftp.bench.mib", "1024").toLong()
    private val reps = System.getProperty("ferroftp.bench.reps", "3").toInt()
    private val client = System.getProperty("ferroftp.bench.client")?.takeIf { it.isNotBlank() }

    /** Runs the Rust client; returns its seconds for the operations alone (`op_s`). */
    private fun rust(vararg args: String): Double {
        val p = ProcessBuilder(listOf(client!!) + args).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "bench_client ${args.toList()} failed" }
        return parseFlatJson(out.trim()).getValue("op_s").toDouble()
    }

    private fun median(xs: List<Double>) = xs.sorted()[xs.size / 2]

    @Test
    fun noopAndDownload() {
        TestServer("vsftpd").use { server ->
            val big = server.root.resolve("big.bin")
            val block = ByteArray(16 shl 20).also { SecureRandom().nextBytes(it) }
            Files.newOutputStream(big).use { out -> repeat((mib / 16).toInt()) { out.write(block) } }
            server.own(big)
            val bytes = mib shl 20
            val kotlinNoop = mutableListOf<Double>()
            val rustNoop = mutableListOf<Double>()
            val kotlinDl = mutableListOf<Double>()
            val rustDl = mutableListOf<Double>()
            repeat(reps) {
                if (client != null) {
                    rustNoop += rust("noop", "--url", server.url, "--count", "$noops") / noops * 1e6
                }
                Session.connect(server.url).use { s ->
                    s.noop()
                    val ns = measureNanoTime { repeat(noops) { s.noop() } }
                    kotlinNoop += ns / 1e3 / noops
                }
                if (client != null) {
                    rustDl += bytes / 1e6 / rust("download", "--url", server.url, "--remote", "/big.bin", "--local", "/dev/null")
                }
                Session.connect(server.url).use { s ->
                    var n = 0UL
                    val ns = measureNanoTime { n = s.download("/big.bin", "/dev/null") }
                    check(n == bytes.toULong()) { "downloaded $n bytes" }
                    kotlinDl += bytes / 1e6 / (ns / 1e9)
                }
            }
            val lines = mutableListOf(
                "ferroftp Kotlin bench (vsftpd, loopback, blocking API, medians of $reps, interleaved with the Rust core)",
                "  NOOP round trip, $noops calls:  Kotlin %.1f µs/call".format(median(kotlinNoop)),
                "  $mib MiB download → /dev/null:  Kotlin %.0f MB/s".format(median(kotlinDl)),
            )
            if (client != null) {
                val perCall = median(kotlinNoop) / median(rustNoop)
                val throughput = median(kotlinDl) / median(rustDl)
                lines[1] += "  Rust core %.1f µs/call  ratio %.2f× (goal ≤ 1.5×)".format(median(rustNoop), perCall)
                lines[2] += "  Rust core %.0f MB/s  ratio %.2f× (goal ≥ 0.9×)".format(median(rustDl), throughput)
                lines += "  all runs: Kotlin NOOP $kotlinNoop µs, Rust NOOP $rustNoop µs, Kotlin MB/s $kotlinDl, Rust MB/s $rustDl"
            }
            // The crossing alone (JNA + uniffi's generated code, no I/O): a method returning a
            // number (Pool.limit()) and a function returning a string (version()).
            val calls = 200_000
            Pool(server.url, 2u).use { pool ->
                repeat(calls) { pool.limit() }
                val limitNs = measureNanoTime { repeat(calls) { pool.limit() } }
                repeat(calls) { version() }
                val versionNs = measureNanoTime { repeat(calls) { version() } }
                lines += "  FFI crossing alone: Pool.limit() %.2f µs/call, version() %.2f µs/call".format(
                    limitNs / 1e3 / calls,
                    versionNs / 1e3 / calls,
                )
            }
            println(lines.joinToString("\n"))
            Files.deleteIfExists(big)
        }
    }
}
