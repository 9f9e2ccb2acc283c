using System.Text.Json.Nodes;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Models;
using EdgeGuard.Testing;
using TempDirectory = EdgeGuard.Tests.Bundle.TempDirectory;

namespace EdgeGuard.Tests.Generation;

/// <summary>
/// Models of the generation tests: the decoder fixtures and tests/fixtures/generation (from
/// <c>training/edgeguard_train/generation_golden.py</c>), and the tiny llama over llama3-small's vocabulary with a real tokenizer.
/// </summary>
internal static class GenerationFixtures
{
    private static readonly Dictionary<string, GenerativeModel> Models = [];

    public static string FixturesRoot => Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures");

    public static string ChatModelPath => Path.Combine(FixturesRoot, "generation", "llama3-small-chat");

    public static string TokenizerPath(string name) => Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", name);

    /// <summary>A model of tests/fixtures without a tokenizer (<c>decoders/llama-gqa-tied</c>, <c>generation/offset-original</c> …), loaded once.</summary>
    public static GenerativeModel TokenModel(string relativePath)
    {
        lock (Models)
        {
            if (!Models.TryGetValue(relativePath, out GenerativeModel? model))
            {
                var decoder = DecoderModel.Load(ModelSource.Open(Path.Combine(FixturesRoot, relativePath)), DecoderFixtures.Pool);
                model = new GenerativeModel(relativePath, decoder, null);
                Models[relativePath] = model;
            }

            return model;
        }
    }

    /// <summary>The tiny llama with the files of tokenizer <paramref name="tokenizer"/> beside it, loaded once per tokenizer.</summary>
    public static GenerativeModel ChatModel(string tokenizer = "llama3-small")
    {
        lock (Models)
        {
            string key = "chat:" + tokenizer;
            if (!Models.TryGetValue(key, out GenerativeModel? model))
            {
                using TempDirectory directory = ChatModelDirectory(tokenizer);
                model = GenerativeModel.Open(directory.Path, DecoderFixtures.Pool);
                Models[key] = model;
            }

            return model;
        }
    }

    /// <summary>
    /// A directory with the tiny llama and the files of tokenizer <paramref name="tokenizer"/>; <paramref name="editTokenizerConfig"/>
    /// changes its <c>tokenizer_config.json</c>. Opened models keep working after it is deleted (weights are mapped, tokenizer files read).
    /// </summary>
    public static TempDirectory ChatModelDirectory(string tokenizer = "llama3-small", Action<JsonObject>? editTokenizerConfig = null)
    {
        var directory = new TempDirectory();
        foreach (string file in Directory.EnumerateFiles(ChatModelPath))
        {
            File.Copy(file, directory.File(Path.GetFileName(file)));
        }

        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json", "tokenizer.model" })
        {
            string source = Path.Combine(TokenizerPath(tokenizer), name);
            if (File.Exists(source))
            {
                File.Copy(source, directory.File(name));
            }
        }

        if (editTokenizerConfig is not null)
        {
            var config = (JsonObject)JsonNode.Parse(File.ReadAllText(directory.File("tokenizer_config.json")))!;
            editTokenizerConfig(config);
            File.WriteAllText(directory.File("tokenizer_config.json"), config.ToJsonString());
        }

        return directory;
    }
}
