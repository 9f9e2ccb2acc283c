using System.CommandLine;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;
using EdgeGuard.Pruning;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Cli.Commands;

/// <summary>
/// <c>edgeguard prune</c>: Antidote on a decoder the runtime opens, from forward passes alone. It selects, tokenizes and
/// scores exactly as the training pipeline's <c>antidote</c> stage, and writes its <c>antidote.json</c>, so the masks of the
/// two can be compared digest by digest.
/// </summary>
internal static class PruneCommand
{
    /// <summary>The report beside the pruned model, named as the training stage names it.</summary>
    public const string ReportFileName = "antidote.json";

    private static readonly Option<string[]> Calibration = new("--calibration")
    {
        Description = "JSONL files (or .txt, one text per line) of harmful text whose activations score the weights (required by --mode wanda).",
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<string> TextFields = new("--text-fields")
    {
        Description = "Comma-separated row fields whose strings, joined by a newline, are a row's text; missing, null or blank fields are left out.",
        DefaultValueFactory = _ => "prompt,response",
    };

    private static readonly Option<string[]> Where = new("--where")
    {
        Description = "Keep only rows whose FIELD equals VALUE (FIELD=VALUE, e.g. label=unsafe); repeatable: values of one field are alternatives, different fields must all match.",
    };

    private static readonly Option<int> Samples = new("--samples")
    {
        Description = "Calibration rows to use, drawn by --seed as the training stage draws them when there are more.",
        DefaultValueFactory = _ => 128,
    };

    private static readonly Option<int?> MaxLength = new("--max-length")
    {
        Description = "Tokens per calibration row including BOS and EOS (longer rows are cut; default 256 or the model's context if shorter).",
    };

    private static readonly Option<long> Seed = new("--seed")
    {
        Description = "Picks the calibration rows (Python's random.Random(seed).sample, as the training stage).",
        DefaultValueFactory = _ => 13,
    };

    private static readonly Option<double> DenseRatio = new("--dense-ratio")
    {
        Description = "Share of each output row's weights to zero: ceil(ratio x inputs) per row, the ratio read as the decimal written.",
        DefaultValueFactory = _ => 0.1,
    };

    private static readonly Option<string> Linears = new("--linears")
    {
        Description = "qkv: the attention's query, key and value projections (GPT-2's fused c_attn); all: every linear layer of the blocks.",
        DefaultValueFactory = _ => "qkv",
    };

    private static readonly Option<string> Mode = new("--mode")
    {
        Description = "wanda: |W| x ||X||_2 over the calibration tokens (Antidote); magnitude: |W| (a control). The random control is the training stage's only.",
        DefaultValueFactory = _ => "wanda",
    };

    private static readonly Option<string> Output = new("--output", "-o")
    {
        Description = "Directory for the pruned model (the input's form: a Hugging Face directory, or model.gguf for a bundle) and antidote.json.",
        Required = true,
    };

    private static readonly Option<bool> Overwrite = new("--overwrite")
    {
        Description = "Write into an --output that already holds a model.",
    };

    public static Command Create()
    {
        Linears.AcceptOnlyFromAmong("qkv", "all");
        Mode.AcceptOnlyFromAmong("wanda", "magnitude", "random");
        var command = new Command(
            "prune",
            "Antidote: zero the weights of a float32 decoder (Llama, Qwen2, GPT-2) that score highest on harmful calibration text (|W| x ||X||_2), "
            + "with the masks of the training pipeline's antidote stage.")
        {
            Calibration, TextFields, Where, Samples, MaxLength, Seed, DenseRatio, Linears, Mode, Output, Overwrite,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string modelPath = parsed.GetValue(CommonOptions.Model)
            ?? throw new CliUsageException("prune needs --model: a decoder's Hugging Face directory or float32 bundle.");
        string[] calibration = parsed.GetValue(Calibration) ?? [];
        string mode = parsed.GetValue(Mode)!;
        double denseRatio = parsed.GetValue(DenseRatio);
        string output = parsed.GetValue(Output)!;
        if (!(denseRatio > 0 && denseRatio < 1))
        {
            throw new CliUsageException($"--dense-ratio {denseRatio.ToString("R", CultureInfo.InvariantCulture)} is not in (0, 1): give the share of each row's weights to zero, e.g. 0.1.");
        }

        if (mode == "random")
        {
            throw new CliUsageException(
                "--mode random draws its scores from PyTorch's generator, which the runtime cannot reproduce bit for bit; "
                + "run the random control with the training stage (python3 -m edgeguard_train antidote --mode random).");
        }

        if (mode == "wanda" && calibration.Length == 0)
        {
            throw new CliUsageException("--mode wanda needs --calibration: harmful text whose activations score the weights.");
        }

        if (parsed.GetValue(Samples) < 1)
        {
            throw new CliUsageException($"--samples {parsed.GetValue(Samples)} must be at least 1.");
        }

        if (Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar) == Path.GetFullPath(modelPath).TrimEnd(Path.DirectorySeparatorChar))
        {
            throw new CliUsageException("--output must differ from --model.");
        }

        if (!parsed.GetValue(Overwrite)
            && (File.Exists(Path.Combine(output, HuggingFaceDirectory.WeightsFileName)) || File.Exists(Path.Combine(output, ModelSource.FolderBundleFileName))))
        {
            throw new CliUsageException($"{output} already holds a model (--overwrite replaces it).");
        }

        IReadOnlyList<string> fields = CalibrationText.ParseFields(parsed.GetValue(TextFields)!);
        string[] whereValues = parsed.GetValue(Where) ?? [];
        IReadOnlyDictionary<string, List<string>> where = CalibrationText.ParseWhere(whereValues);

        using var source = ModelSource.Open(modelPath);
        if (!source.Architecture.IsDecoder)
        {
            throw new ModelFileException(
                $"{modelPath}: model_type={ErrorText.Quote(source.Config.ModelType)} is a sequence classifier; prune works on decoder language models (Llama, Qwen2, GPT-2).");
        }

        if (source.Precision != BundleFormat.PrecisionF32)
        {
            throw new ModelFileException(
                $"{modelPath}: an {source.Precision} bundle; pruning scores and zeroes float32 weights, so prune the Hugging Face directory or a float32 bundle, then convert the result with --quant int8.");
        }

        var tokenizer = source.LoadTokenizer() as IGenerativeTokenizer
            ?? throw new ModelFileException($"{modelPath}: its {source.TokenizerFiles.Kind} tokenizer cannot drive a decoder language model.");
        using var pool = new WorkerPool(parsed.GetValue(CommonOptions.Threads));
        using DecoderModel model = DecoderModel.Load(source, pool);
        if (tokenizer.VocabularySize > model.VocabularySize)
        {
            throw new ModelFileException($"{modelPath}: its tokenizer has {tokenizer.VocabularySize} tokens but the model only {model.VocabularySize}; they do not belong together.");
        }

        int maxLength = parsed.GetValue(MaxLength) ?? Math.Min(256, model.MaxContextLength);
        if (maxLength < 1 || maxLength > model.MaxContextLength)
        {
            throw new CliUsageException($"--max-length {maxLength} must be 1 to the model's context of {model.MaxContextLength} tokens.");
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        int available = 0;
        List<int[]> rows = [];
        if (calibration.Length > 0)
        {
            List<string> texts = CalibrationText.Read(calibration, fields, where);
            available = texts.Count;
            int samples = parsed.GetValue(Samples);
            if (available > samples)
            {
                int[] chosen = new PythonRandom(new BigInteger(parsed.GetValue(Seed))).Sample(available, samples);
                Array.Sort(chosen);
                texts = [.. chosen.Select(i => texts[i])];
            }

            rows = [.. texts.Select(t => Document(tokenizer, t, maxLength)).Where(ids => ids.Length > 0)];
            if (mode == "wanda" && rows.Count == 0)
            {
                throw new CliUsageException($"no row of {string.Join(' ', calibration)} gives text (check --text-fields and --where).");
            }
        }

        PrunedLinears which = parsed.GetValue(Linears) == "all" ? PrunedLinears.All : PrunedLinears.QueryKeyValue;
        IReadOnlyList<PrunableLinear> layers = PrunableLinear.Choose(model, which);
        LinearInputSquares? squares = null;
        if (mode == "wanda")
        {
            squares = new LinearInputSquares(layers);
            using var progress = new ProgressBar("calibration", rows.Count);
            int done = 0;
            squares.Add(model, rows, () => progress.Report(++done), cancellationToken);
        }

        var weights = new PrunedWeights(source.Weights);
        var reports = new List<LayerReport>();
        foreach (PrunableLinear layer in layers)
        {
            double[] scores = squares is null
                ? AntidoteMasks.MagnitudeScores(layer.Weight)
                : AntidoteMasks.WandaScores(layer.Weight, layer.OutFeatures, layer.InFeatures, squares.Of(layer));
            int perRow = AntidoteMasks.PrunedPerRow(denseRatio, layer.InFeatures);
            bool[] mask = AntidoteMasks.TopOfEachRow(scores, layer.OutFeatures, layer.InFeatures, perRow);
            weights.Prune(layer, mask);
            reports.Add(new LayerReport(layer.Name, layer.OutFeatures, layer.InFeatures, perRow, mask.Count(m => m), AntidoteMasks.Digest(mask)));
        }

        PrunedModelFiles.Write(source, weights, output);
        var report = new Report(
            mode, denseRatio, parsed.GetValue(Linears)!, Path.GetFullPath(modelPath), calibration, parsed.GetValue(TextFields)!, whereValues,
            available, rows.Count, rows.Sum(r => (long)r.Length), maxLength, parsed.GetValue(Seed), reports);
        string reportPath = Path.Combine(output, ReportFileName);
        using (var file = File.Create(reportPath))
        {
            report.Write(file);
        }

        long pruned = reports.Sum(r => r.Pruned), total = reports.Sum(r => (long)r.Rows * r.Columns);
        if (parsed.GetValue(CommonOptions.Json))
        {
            using var stdout = Console.OpenStandardOutput();
            report.Write(stdout);
        }
        else
        {
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"prune: output={output} mode={mode} linears={parsed.GetValue(Linears)} layers={reports.Count} pruned={pruned} share={(double)pruned / total:F4} calibration_rows={rows.Count} seconds={started.Elapsed.TotalSeconds:F3}"));
        }

        return ExitCodes.Ok;
    }

    /// <summary><c>BOS text EOS</c> (each when the tokenizer has one), cut to <paramref name="maxLength"/> ids; a cut row keeps its BOS.</summary>
    internal static int[] Document(IGenerativeTokenizer tokenizer, string text, int maxLength)
    {
        var ids = new List<int>();
        if (tokenizer.BosId is { } bos)
        {
            ids.Add(bos);
        }

        tokenizer.Encode(text, ids);
        if (tokenizer.EosId is { } eos)
        {
            ids.Add(eos);
        }

        return [.. ids.Take(maxLength)];
    }

    private sealed record LayerReport(string Name, int Rows, int Columns, int ZerosPerRow, long Pruned, string MaskSha256);

    /// <summary><c>antidote.json</c> in the training stage's schema.</summary>
    private sealed record Report(
        string Mode, double DenseRatio, string Linears, string Model, string[] Files, string TextFields, string[] Where, int RowsAvailable, int RowsUsed,
        long Tokens, int MaxLength, long Seed, List<LayerReport> Layers)
    {
        public void Write(Stream stream)
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteString("method", "antidote");
            json.WriteString("mode", Mode);
            json.WriteNumber("dense_ratio", DenseRatio);
            json.WriteString("linears", Linears);
            json.WriteString("rounding", "ceil(dense_ratio x in_features) per output row");
            json.WriteString("ties", "lower input index first");
            json.WriteString("model", Model);
            json.WriteStartObject("calibration");
            WriteStrings(json, "files", Files);
            json.WriteString("text_fields", TextFields);
            WriteStrings(json, "where", Where);
            json.WriteNumber("rows_available", RowsAvailable);
            json.WriteNumber("rows_used", RowsUsed);
            json.WriteNumber("tokens", Tokens);
            json.WriteNumber("max_length", MaxLength);
            json.WriteNumber("seed", Seed);
            json.WriteEndObject();
            json.WriteNumber("pruned", Layers.Sum(l => l.Pruned));
            json.WriteNumber("weights_in_chosen_layers", Layers.Sum(l => (long)l.Rows * l.Columns));
            json.WriteString("mask_sha256", AntidoteMasks.CombinedDigest(Layers.Select(l => l.MaskSha256)));
            json.WriteStartArray("layers");
            foreach (LayerReport layer in Layers)
            {
                json.WriteStartObject();
                json.WriteString("name", layer.Name);
                json.WriteStartArray("shape");
                json.WriteNumberValue(layer.Rows);
                json.WriteNumberValue(layer.Columns);
                json.WriteEndArray();
                json.WriteNumber("zeros_per_row", layer.ZerosPerRow);
                json.WriteNumber("pruned", layer.Pruned);
                json.WriteString("mask_sha256", layer.MaskSha256);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
        }

        private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
        {
            json.WriteStartArray(name);
            foreach (string value in values)
            {
                json.WriteStringValue(value);
            }

            json.WriteEndArray();
        }
    }
}
