using System.CommandLine;
using EdgeGuard.Tooling;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard synthesize</c>: a Hugging Face directory of a real checkpoint shape with seeded random weights.</summary>
internal static class SynthesizeCommand
{
    private static readonly Option<string> Shape = new("--shape")
    {
        Description = "Model shape: " + string.Join(", ", ModelShape.All.Select(s => $"{s.Name} ({s.Architecture} {s.Layers}x{s.HiddenSize})")) + ".",
        Required = true,
    };

    private static readonly Option<string> Tokenizer = new("--tokenizer")
    {
        Description = "The tokenizer to ship with the model: a file (spm.model for DeBERTa) or a directory holding the files of the architecture's tokenizer (vocab.txt for BERT; vocab.json and merges.txt, or tokenizer.json, for RoBERTa; tokenizer.json for Llama).",
        Required = true,
    };

    private static readonly Option<string> Output = new("--output", "-o")
    {
        Description = "Directory to write (config.json, model.safetensors and the tokenizer files).",
        Required = true,
    };

    private static readonly Option<int?> VocabSize = new("--vocab-size")
    {
        Description = "Rows of the embedding table (default: the tokenizer's vocabulary; DeBERTa-v3 checkpoints use 128100).",
    };

    private static readonly Option<int> Seed = new("--seed")
    {
        Description = "Random seed of the weights.",
        DefaultValueFactory = _ => 1,
    };

    public static Command Create()
    {
        var command = new Command("synthesize", "Write a Hugging Face directory of a real checkpoint shape (a classifier, or a decoder language model) with random weights (for speed and memory work; its outputs mean nothing).")
        {
            Shape, Tokenizer, Output, VocabSize, Seed,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        var shape = ModelShape.Get(parsed.GetValue(Shape)!);
        string spmPath = parsed.GetValue(Tokenizer)!;
        string output = parsed.GetValue(Output)!;
        long parameters = SyntheticModel.Write(shape, spmPath, output, parsed.GetValue(VocabSize), parsed.GetValue(Seed), cancellationToken);
        Console.Out.WriteLine($"wrote {output}: {shape.Name} ({shape.Architecture}, {shape.Layers} layers x {shape.HiddenSize}), {parameters / 1e6:F1}M parameters");
        return ExitCodes.Ok;
    }
}
