using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard inspect</c>: what a model file holds, without running it.</summary>
internal static class InspectCommand
{
    private static readonly Argument<string?> Target = new("model")
    {
        Description = "Bundle (.gguf) or Hugging Face directory (default: --model, else the default model).",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public static Command Create()
    {
        var command = new Command("inspect", "Show a model's config, tensors, sizes, labels and tokenizer.") { Target };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string path = ModelLocator.Resolve(parsed.GetValue(Target) ?? parsed.GetValue(CommonOptions.Model));
        ModelSummary summary = Directory.Exists(path) ? FromHuggingFace(path) : FromBundle(path);
        if (parsed.GetValue(CommonOptions.Json))
        {
            WriteJson(summary);
        }
        else
        {
            WriteText(summary);
        }

        return ExitCodes.Ok;
    }

    private sealed record ModelSummary(
        string Path, string Format, long Bytes, string ConfigJson, IReadOnlyList<TensorInfo> Tensors, DebertaTokenizer Tokenizer,
        IReadOnlyList<string> Labels, int UnsafeLabel, float? Threshold, IReadOnlyList<KeyValuePair<string, string>> Metadata,
        IReadOnlyList<BundleIntegerTensor> IntegerTensors);

    private static ModelSummary FromBundle(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFileException($"{path}: no such model file or directory.");
        }

        // Inspection shows the file as it is; the full weight checksum is left to opening it for inference.
        using var bundle = ModelBundle.Open(path, verifyTensorData: false);
        var tokenizer = DebertaTokenizer.FromSentencePieceModel(bundle.TokenizerModel.Span);
        var metadata = bundle.Metadata
            .Where(kv => kv.Key is not "edgeguard.config_json" and not "edgeguard.tokenizer.spm_model")
            .Select(kv => new KeyValuePair<string, string>(kv.Key, FormatValue(kv.Value)))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .ToList();
        return new ModelSummary(path, "bundle (GGUF)", bundle.FileSize, bundle.ConfigJson, bundle.Tensors.ToList(), tokenizer, bundle.Labels, bundle.UnsafeLabel, bundle.Threshold, metadata, bundle.IntegerTensors);
    }

    private static ModelSummary FromHuggingFace(string path)
    {
        using var hf = HuggingFaceDirectory.Open(path);
        if (hf.SpmModelPath is null)
        {
            throw new ModelFileException($"{path}: spm.model is missing.");
        }

        var tokenizer = DebertaTokenizer.FromFile(hf.SpmModelPath);
        var labels = ModelLabels.Resolve(hf.Config.Labels, null, path);
        long bytes = Directory.EnumerateFiles(path).Sum(f => new FileInfo(f).Length);
        return new ModelSummary(path, "huggingface", bytes, hf.Config.ToJson(), hf.Weights.Tensors.ToList(), tokenizer, labels.Names, labels.UnsafeIndex, null, [], []);
    }

    private static string FormatValue(object value) => value switch
    {
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.ICollection c => $"[{c.Count} items]",
        _ => value.ToString() ?? string.Empty,
    };

    private static void WriteText(ModelSummary s)
    {
        var c = CultureInfo.InvariantCulture;
        Console.Out.WriteLine($"model      {s.Path}");
        Console.Out.WriteLine(string.Create(c, $"format     {s.Format}, {s.Bytes / (1024.0 * 1024.0):F1} MiB"));
        Console.Out.WriteLine($"labels     [{string.Join(", ", s.Labels)}], unsafe = {s.Labels[s.UnsafeLabel]}{(s.Threshold is { } threshold ? string.Create(c, $", threshold {threshold:F2}") : string.Empty)}");
        Console.Out.WriteLine($"tokenizer  SentencePiece unigram, {s.Tokenizer.PieceCount} pieces (+[MASK] = {s.Tokenizer.MaskId}), normalizer {s.Tokenizer.NormalizerName}");
        foreach (var kv in s.Metadata)
        {
            Console.Out.WriteLine($"meta       {kv.Key} = {kv.Value}");
        }

        Console.Out.WriteLine("config");
        Console.Out.WriteLine(IndentedJson(s.ConfigJson));

        long elements = s.Tensors.Sum(t => t.ElementCount);
        Console.Out.WriteLine(string.Create(c, $"tensors    {s.Tensors.Count}, {elements / 1e6:F2}M parameters"));
        foreach (var t in s.Tensors.OrderBy(x => x.Name, StringComparer.Ordinal))
        {
            Console.Out.WriteLine(string.Create(c, $"  {t.Name,-64} {t.DType,-5} {t.ShapeText,-16} {t.ElementCount * ModelFiles.TensorDTypes.SizeOf(t.DType),12:N0} B"));
        }

        if (s.IntegerTensors.Count > 0)
        {
            Console.Out.WriteLine(string.Create(c, $"int8       {s.IntegerTensors.Count} integer tensors (packed int8 weights and their channel sums)"));
            foreach (var t in s.IntegerTensors)
            {
                Console.Out.WriteLine(string.Create(c, $"  {t.Name,-64} {t.Type,-5} {"[" + string.Join(", ", t.Shape) + "]",-16} {t.ByteLength,12:N0} B"));
            }
        }
    }

    private static string IndentedJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            doc.RootElement.WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteJson(ModelSummary s)
    {
        using var writer = new Utf8JsonWriter(Console.OpenStandardOutput(), new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteString("path", s.Path);
        writer.WriteString("format", s.Format);
        writer.WriteNumber("bytes", s.Bytes);
        writer.WriteStartArray("labels");
        foreach (string l in s.Labels)
        {
            writer.WriteStringValue(l);
        }

        writer.WriteEndArray();
        writer.WriteNumber("unsafe_label", s.UnsafeLabel);
        if (s.Threshold is { } threshold)
        {
            writer.WriteNumber("threshold", threshold);
        }

        writer.WriteStartObject("tokenizer");
        writer.WriteString("type", "sentencepiece-unigram");
        writer.WriteNumber("pieces", s.Tokenizer.PieceCount);
        writer.WriteNumber("vocabulary_size", s.Tokenizer.VocabularySize);
        writer.WriteString("normalizer", s.Tokenizer.NormalizerName);
        writer.WriteEndObject();
        writer.WriteStartObject("metadata");
        foreach (var kv in s.Metadata)
        {
            writer.WriteString(kv.Key, kv.Value);
        }

        writer.WriteEndObject();
        writer.WritePropertyName("config");
        using (var config = JsonDocument.Parse(s.ConfigJson))
        {
            config.RootElement.WriteTo(writer);
        }

        writer.WriteStartArray("tensors");
        foreach (var tensor in s.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            writer.WriteStartObject();
            writer.WriteString("name", tensor.Name);
            writer.WriteString("dtype", tensor.DType.ToString());
            writer.WriteStartArray("shape");
            foreach (long d in tensor.Shape)
            {
                writer.WriteNumberValue(d);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartArray("integer_tensors");
        foreach (var tensor in s.IntegerTensors)
        {
            writer.WriteStartObject();
            writer.WriteString("name", tensor.Name);
            writer.WriteString("dtype", tensor.Type);
            writer.WriteStartArray("shape");
            foreach (long d in tensor.Shape)
            {
                writer.WriteNumberValue(d);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        Console.Out.WriteLine();
    }
}
