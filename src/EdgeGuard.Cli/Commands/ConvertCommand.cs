using EdgeGuard.Kernels.Int8;
using System.CommandLine;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard convert</c>: a Hugging Face directory into one deployment bundle.</summary>
internal static class ConvertCommand
{
    private static readonly Argument<string> Source = new("hf-dir")
    {
        Description = "Hugging Face model directory (config.json, model.safetensors and the tokenizer files of its architecture).",
    };

    private static readonly Option<string> Output = new("--output", "-o")
    {
        Description = "Bundle file to write (.gguf).",
        Required = true,
    };

    private static readonly Option<float> Threshold = new("--threshold")
    {
        Description = "Decision threshold on the unsafe probability stored in the bundle.",
        DefaultValueFactory = _ => 0.5f,
    };

    private static readonly Option<int?> UnsafeLabel = new("--unsafe-label")
    {
        Description = "Class index that means unsafe (default: the label named unsafe/harmful/toxic, else class 1 of two).",
    };

    private static readonly Option<string?> Name = new("--name")
    {
        Description = "Model name stored in the bundle (default: the directory name).",
    };

    private static readonly Option<string> Quant = new("--quant")
    {
        Description = "Weight precision: f32, or int8 (per-channel int8 linear layers, pre-packed, with what the architecture precomputes).",
        DefaultValueFactory = _ => "f32",
    };

    private static readonly Option<int> WeightBits = new("--weight-bits")
    {
        Description = "With --quant int8: 8 (weights in [-127, 127]) or 7 ([-63, 63]: the AVX2 kernel multiplies them about 1.1x faster, "
            + "the x86-64-v3 profile's choice; slightly coarser weights on every CPU).",
        DefaultValueFactory = _ => 8,
    };

    private static readonly Option<string> WordTable = new("--word-table")
    {
        Description = "With --quant int8: how the word embedding table is stored: q8_0 (ggml Q8_0 blocks, about half the size of f16; "
            + "bundle format 4) or f16 (bundle format 3, which earlier EdgeGuard releases also read). Tables whose width is not a multiple of 32 stay f16.",
        DefaultValueFactory = _ => "q8_0",
    };

    private static readonly Option<string[]> KeepFloat = new("--keep-float")
    {
        Description = "With --quant int8: keep the linear layers whose names match in float32 (mixed precision, for layers whose int8 rounding moves decisions). "
            + "Names as the weights have them without '.weight', e.g. 'bert.encoder.layer.5.output.dense'; '*' matches within one dot-separated part, "
            + "'**' across parts. Repeatable.",
        AllowMultipleArgumentsPerToken = false,
    };

    public static Command Create()
    {
        Quant.AcceptOnlyFromAmong("f32", "int8");
        WeightBits.AcceptOnlyFromAmong("7", "8");
        WordTable.AcceptOnlyFromAmong("q8_0", "f16");
        var command = new Command("convert", "Convert a Hugging Face model directory (classifiers: DeBERTa-v3, BERT, RoBERTa; decoders: Llama, Qwen2, GPT-2) into an EdgeGuard bundle (GGUF).")
        {
            Source, Output, Threshold, UnsafeLabel, Name, Quant, WeightBits, WordTable, KeepFloat,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string source = parsed.GetValue(Source)!;
        string output = parsed.GetValue(Output)!;
        float threshold = parsed.GetValue(Threshold);
        if (!(threshold > 0f && threshold < 1f))
        {
            throw new CliUsageException("--threshold must lie strictly between 0 and 1.");
        }

        if (!Directory.Exists(source))
        {
            throw new ModelFileException($"{source}: not a directory; convert reads a Hugging Face model directory.");
        }

        bool int8 = parsed.GetValue(Quant) == "int8";
        if (!int8 && parsed.GetResult(WeightBits) is { Implicit: false })
        {
            throw new CliUsageException("--weight-bits applies to --quant int8 only.");
        }

        string[] keepFloat = parsed.GetValue(KeepFloat) ?? [];
        if (!int8 && keepFloat.Length > 0)
        {
            throw new CliUsageException("--keep-float applies to --quant int8 only (a float bundle stores every layer in float32).");
        }

        string name = parsed.GetValue(Name) ?? new DirectoryInfo(source).Name;
        using (var probe = ModelSource.Open(source))
        {
            if (!probe.Architecture.IsClassifier)
            {
                return ConvertDecoder(parsed, probe, source, output, name, int8, keepFloat);
            }
        }

        // Opening the directory as a guard validates config, tensors, tokenizer and labels together before anything is written.
        using (Guard.Open(source, new GuardOptions { Threads = 1, UnsafeLabel = parsed.GetValue(UnsafeLabel) }))
        {
        }

        using var model = ModelSource.Open(source);
        var labels = ModelLabels.Resolve(model.Labels!, parsed.GetValue(UnsafeLabel), source);

        if (!int8 && parsed.GetResult(WordTable) is { Implicit: false })
        {
            throw new CliUsageException("--word-table applies to --quant int8 only (a float bundle stores every tensor as f32).");
        }

        int weightLimit = parsed.GetValue(WeightBits) == 7 ? PackedInt8Matrix.SevenBitWeightLimit : PackedInt8Matrix.FullWeightLimit;
        using (var progress = new ProgressBar("convert", 100))
        {
            BundleConversion.Write(
                model, output, new BundleClassifier(labels.Names, labels.UnsafeIndex, threshold), int8, weightLimit, name,
                Path.GetFileName(Path.GetFullPath(source)), new Progress<double>(p => progress.Report((long)(p * 100))),
                parsed.GetValue(WordTable) == "f16" ? WordTableFormat.F16 : WordTableFormat.Q8_0, keepFloat: keepFloat);
        }

        using var bundle = ModelBundle.Open(output);
        string weights = int8 ? $" ({(bundle.Int8WeightLimit == PackedInt8Matrix.SevenBitWeightLimit ? 7 : 8)}-bit weights{FloatLayers(keepFloat)})" : string.Empty;
        Console.Out.WriteLine($"wrote {output}: {bundle.Architecture}, {bundle.Precision}{weights}, format version {bundle.FormatVersion}, {bundle.Tensors.Count} float tensors, {bundle.FileSize / (1024.0 * 1024.0):F1} MiB, labels [{string.Join(", ", labels.Names)}], unsafe = {labels.UnsafeName}, threshold {threshold:F2}");
        return ExitCodes.Ok;
    }

    /// <summary>A decoder language model: no classifier metadata; the weights are loaded once as a decoder to validate them first.</summary>
    private static int ConvertDecoder(ParseResult parsed, ModelSource model, string source, string output, string name, bool int8, string[] keepFloat)
    {
        if (parsed.GetResult(Threshold) is { Implicit: false } || parsed.GetResult(UnsafeLabel) is { Implicit: false })
        {
            throw new CliUsageException($"--threshold and --unsafe-label apply to classifiers; {model.Config.ModelType} is a decoder language model.");
        }

        using (var pool = new WorkerPool(1))
        {
            model.LoadDecoder(pool);
        }

        int weightLimit = parsed.GetValue(WeightBits) == 7 ? PackedInt8Matrix.SevenBitWeightLimit : PackedInt8Matrix.FullWeightLimit;
        using (var progress = new ProgressBar("convert", 100))
        {
            BundleConversion.Write(
                model, output, classifier: null, int8, weightLimit, name, Path.GetFileName(Path.GetFullPath(source)), new Progress<double>(p => progress.Report((long)(p * 100))),
                keepFloat: keepFloat);
        }

        using var bundle = ModelBundle.Open(output);
        string weights = int8 ? $" ({(bundle.Int8WeightLimit == PackedInt8Matrix.SevenBitWeightLimit ? 7 : 8)}-bit weights{FloatLayers(keepFloat)})" : string.Empty;
        Console.Out.WriteLine($"wrote {output}: {bundle.Architecture} decoder, {bundle.Precision}{weights}, format version {bundle.FormatVersion}, {bundle.Tensors.Count} float tensors, {bundle.FileSize / (1024.0 * 1024.0):F1} MiB");
        return ExitCodes.Ok;
    }

    /// <summary>", layers in float32: P, Q" for a mixed-precision conversion; empty when every linear layer is int8.</summary>
    private static string FloatLayers(string[] keepFloat) => keepFloat.Length == 0 ? string.Empty : $"; kept in float32: {string.Join(", ", keepFloat)}";
}
