using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;
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
        ModelSummary summary = Summarize(path);
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
        string Path, string Format, long Bytes, string Architecture, string ConfigJson, IReadOnlyList<TensorInfo> Tensors, string TokenizerKind, ITokenizer Tokenizer,
        IReadOnlyList<string>? Labels, int UnsafeLabel, float? Threshold, IReadOnlyList<KeyValuePair<string, string>> Metadata,
        IReadOnlyList<BundleIntegerTensor> IntegerTensors);

    private static ModelSummary Summarize(string path)
    {
        // Inspection shows the file as it is; the full weight checksum is left to opening it for inference.
        using var model = ModelSource.Open(path, verifyWeights: false);
        ITokenizer tokenizer = model.LoadTokenizer();
        if (model.Bundle is { } bundle)
        {
            var metadata = bundle.Metadata
                .Where(kv => kv.Key != BundleKeys.ConfigJson && kv.Key != BundleKeys.TokenizerModel && !kv.Key.StartsWith(BundleKeys.TokenizerFilePrefix, StringComparison.Ordinal))
                .Select(kv => new KeyValuePair<string, string>(kv.Key, FormatValue(kv.Value)))
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .ToList();
            return new ModelSummary(
                path, "bundle (GGUF)", bundle.FileSize, bundle.Architecture, bundle.ConfigJson, bundle.Tensors.ToList(), model.TokenizerFiles.Kind, tokenizer,
                bundle.Labels, bundle.UnsafeLabel, bundle.IsClassifier ? bundle.Threshold : null, metadata, bundle.IntegerTensors);
        }

        // A decoder language model has no labels.
        var labels = model.Architecture.IsClassifier ? ModelLabels.Resolve(model.Config.Labels, null, path) : null;
        long bytes = Directory.EnumerateFiles(path).Sum(f => new FileInfo(f).Length);
        return new ModelSummary(
            path, "huggingface", bytes, model.Config.ModelType, model.Config.ToJson(), model.Weights.Tensors.ToList(), model.TokenizerFiles.Kind, tokenizer,
            labels?.Names, labels?.UnsafeIndex ?? 0, null, [], []);
    }

    private static string DescribeTokenizer(ModelSummary s) => s.Tokenizer is DebertaTokenizer spm
        ? $"SentencePiece unigram, {spm.PieceCount} pieces (+[MASK] = {spm.MaskId}), normalizer {spm.NormalizerName}"
        : $"{s.TokenizerKind}, {s.Tokenizer.VocabularySize} tokens";

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
        Console.Out.WriteLine($"arch       {s.Architecture}");
        Console.Out.WriteLine(s.Labels is null
            ? "labels     none (not a classifier)"
            : $"labels     [{string.Join(", ", s.Labels)}], unsafe = {s.Labels[s.UnsafeLabel]}{(s.Threshold is { } threshold ? string.Create(c, $", threshold {threshold:F2}") : string.Empty)}");
        Console.Out.WriteLine($"tokenizer  {DescribeTokenizer(s)}");
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
            Console.Out.WriteLine(string.Create(c, $"  {t.Name,-64} {t.DType,-5} {t.ShapeText,-16} {ModelFiles.TensorDTypes.ByteLength(t.DType, t.ElementCount),12:N0} B"));
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
        writer.WriteString("architecture", s.Architecture);
        if (s.Labels is not null)
        {
            writer.WriteStartArray("labels");
            foreach (string l in s.Labels)
            {
                writer.WriteStringValue(l);
            }

            writer.WriteEndArray();
            writer.WriteNumber("unsafe_label", s.UnsafeLabel);
        }

        if (s.Threshold is { } threshold)
        {
            writer.WriteNumber("threshold", threshold);
        }

        writer.WriteStartObject("tokenizer");
        writer.WriteString("type", s.TokenizerKind);
        writer.WriteNumber("vocabulary_size", s.Tokenizer.VocabularySize);
        if (s.Tokenizer is DebertaTokenizer spm)
        {
            writer.WriteNumber("pieces", spm.PieceCount);
            writer.WriteString("normalizer", spm.NormalizerName);
        }
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
