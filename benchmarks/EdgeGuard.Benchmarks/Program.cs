using System.Diagnostics;
using System.Globalization;
using EdgeGuard.Benchmarks;

// A harness in the llm.c dev/ style: each kernel is validated against its reference before it is timed, and every
// table prints what the hardware could do next to what was measured. Usage:
//   gemm [--quick] [--m 1,128]          int8 GEMM GOP/s per variant and float32 GFLOP/s at the layer shapes
//   gemm-calls [variant] [--m 1] [--k K] [--n N] [--weight-bits 7|8] [--calls C] [--tiles]   C untimed int8 products, for callgrind
//   e2e <hf-dir> [--seq 64,128] [--iters N] [--int8-only] [--weight-bits 7|8]   float32 vs int8 verdict latency of one model directory
//   accuracy <hf-dir>... [--rows N]      float32 vs int8 decisions and |ΔP(label 1)| on random token rows
//   memory <bundle>...                  resident memory after open and after the first verdict
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: gemm [--quick] [--m 1,128] | gemm-calls [variant] [--m M] [--k K] [--n N] [--weight-bits 7|8] [--calls C] [--tiles] | e2e <hf-dir> [--seq 64,128,256,512] [--iters N] [--int8-only] [--weight-bits 7|8] | accuracy <hf-dir>... [--rows N] | memory <bundle>... | decode <decoder-dir-or-bundle> [--prompt 128] [--tokens 128] [--rounds 5] [--partner <decoder-dir>] [--int8-only]");
    return 2;
}

var options = new HarnessOptions(args[1..]);
Console.WriteLine($"# {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}, started {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
var clock = Stopwatch.StartNew();
int exit = args[0] switch
{
    "gemm" => GemmBenchmark.Run(options),
    "gemm-calls" => GemmBenchmark.RunCalls(options),
    "e2e" => EndToEndBenchmark.Run(options),
    "accuracy" => AccuracyReport.Run(options),
    "memory" => MemoryReport.Run(options),
    "decode" => DecodeBenchmark.Run(options),
    _ => 2,
};
Console.WriteLine($"# done in {clock.Elapsed.TotalSeconds:F0} s");
return exit;
