using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Tooling;
using EdgeGuard.Testing;

[assembly: AssemblyFixture(typeof(EdgeGuard.Daemon.Tests.TinyModels))]

// Unix sockets with modes, POSIX signals: the daemon is a Linux service and so are its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// A tiny synthesized guard (random weights, the 2k test tokenizer) as a Hugging Face directory and a bundle, made once
/// for the whole assembly, plus a file that is not a model.
/// </summary>
public sealed class TinyModels : IDisposable
{
    public TinyModels()
    {
        Root = Directory.CreateTempSubdirectory("edgeguardd-tests-").FullName;
        HfDir = Path.Combine(Root, "hf");
        SyntheticModel.Write(ModelShape.Get("tiny"), Path.Combine(RepoPaths.Tokenizer("spm-unigram-2k"), "spm.model"), HfDir, vocabSize: null, seed: 7);
        BundlePath = Path.Combine(Root, "tiny.gguf");
        using (var hf = HuggingFaceDirectory.Open(HfDir))
        {
            var contents = new BundleContents(
                "deberta-v2", hf.ConfigJson, new BundleTokenizer("spm-unigram", new Dictionary<string, byte[]> { ["spm.model"] = File.ReadAllBytes(hf.FindFile("spm.model")!) }),
                new BundleClassifier(SyntheticModel.Labels, 1, 0.5f), "f32", "tiny-guard", "synthesized");
            BundleWriter.Write(BundlePath, contents, hf.Weights);
        }

        CorruptPath = Path.Combine(Root, "corrupt.gguf");
        byte[] bytes = File.ReadAllBytes(BundlePath);
        File.WriteAllBytes(CorruptPath, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        Reference = Guard.Open(BundlePath);

        ChatModelDir = Path.Combine(Root, "llama3-small-chat");
        Directory.CreateDirectory(ChatModelDir);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "generation", "llama3-small-chat")))
        {
            File.Copy(file, Path.Combine(ChatModelDir, Path.GetFileName(file)));
        }

        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", "llama3-small", name), Path.Combine(ChatModelDir, name));
        }
    }

    public string Root { get; }

    public string HfDir { get; }

    public string BundlePath { get; }

    /// <summary>The bundle cut in half: a file a botched copy leaves behind.</summary>
    public string CorruptPath { get; }

    /// <summary>The tiny Llama 3 chat model of tests/fixtures/generation with the llama3-small tokenizer beside it: a generator.</summary>
    public string ChatModelDir { get; }

    /// <summary>The bundle opened directly, for the verdicts the daemon must reproduce.</summary>
    public Guard Reference { get; }

    /// <summary>A private directory for one test (sockets, model copies), removed with the fixture.</summary>
    public string NewScratch() => Directory.CreateDirectory(Path.Combine(Root, Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose()
    {
        Reference.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
