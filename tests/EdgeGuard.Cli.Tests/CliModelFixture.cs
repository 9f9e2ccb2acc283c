using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>A tiny model made the way users make one: <c>edgeguard synthesize</c>, then <c>edgeguard convert</c>.</summary>
public sealed class CliModelFixture : IDisposable
{
    public CliModelFixture()
    {
        Root = Directory.CreateTempSubdirectory("edgeguard-cli-tests-").FullName;
        HfDir = Path.Combine(Root, "hf");
        BundlePath = Path.Combine(Root, "tiny.gguf");
        SynthesizeResult = CliProcess.Run("synthesize", "--shape", "tiny", "--tokenizer", Path.Combine(RepoPaths.Tokenizer("spm-unigram-2k"), "spm.model"), "-o", HfDir, "--seed", "3");
        ConvertResult = CliProcess.Run("convert", HfDir, "-o", BundlePath, "--threshold", "0.5");
    }

    public string Root { get; }

    public string HfDir { get; }

    public string BundlePath { get; }

    internal CliResult SynthesizeResult { get; }

    internal CliResult ConvertResult { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
