using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Models;

/// <summary>What the decoder architectures' registry entries share: their refusal to classify and the llama.cpp GGUF keys.</summary>
internal static class DecoderArchitectures
{
    /// <summary>The error a decoder gives when asked for a sequence classifier.</summary>
    public static ModelFileException NotAClassifier(IModelConfig config, string modelType) =>
        new($"{config.Origin}: model_type={ErrorText.Quote(modelType)} is a decoder language model, not a sequence classifier; it cannot be used as a guard (load it as a decoder to generate text).");

    /// <summary>A metadata key under <paramref name="modelType"/>, as llama.cpp names its GGUF keys (<c>llama.block_count</c>).</summary>
    public static KeyValuePair<string, GgufValue> Key(string modelType, string name, GgufValue value) => new(modelType + "." + name, value);

    /// <summary>The llama.cpp keys every decoder family has.</summary>
    public static IEnumerable<KeyValuePair<string, GgufValue>> ShapeKeys(string modelType, int context, int embedding, int blocks, int feedForward, int heads) =>
    [
        Key(modelType, "context_length", GgufValue.FromUInt32((uint)context)),
        Key(modelType, "embedding_length", GgufValue.FromUInt32((uint)embedding)),
        Key(modelType, "block_count", GgufValue.FromUInt32((uint)blocks)),
        Key(modelType, "feed_forward_length", GgufValue.FromUInt32((uint)feedForward)),
        Key(modelType, "attention.head_count", GgufValue.FromUInt32((uint)heads)),
    ];
}
