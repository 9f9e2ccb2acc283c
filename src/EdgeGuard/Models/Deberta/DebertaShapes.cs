using System.Text;
using System.Text.Json;

namespace EdgeGuard.Models.Deberta;

/// <summary>Encoder dimensions of a DeBERTa-v3 size.</summary>
public sealed record DebertaShape(string Name, int Layers, int HiddenSize, int Heads, int IntermediateSize, int PositionBuckets, int MaxPositionEmbeddings)
{
    /// <summary>The published DeBERTa-v3 sizes, and <c>tiny</c> for tests and demonstrations.</summary>
    public static IReadOnlyList<DebertaShape> All { get; } =
    [
        new("tiny", 2, 64, 2, 128, 64, 512),
        new("xsmall", 12, 384, 6, 1536, 256, 512),
        new("small", 6, 768, 12, 3072, 256, 512),
        new("base", 12, 768, 12, 3072, 256, 512),
        new("large", 24, 1024, 16, 4096, 256, 512),
    ];

    /// <summary>The shape called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static DebertaShape Get(string name) =>
        All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model shape '{name}'; known shapes: {string.Join(", ", All.Select(s => s.Name))}.", nameof(name));

    /// <summary>A Hugging Face <c>config.json</c> for a DeBERTa-v3 sequence classifier of this shape.</summary>
    public string ToConfigJson(int vocabSize, IReadOnlyList<string> labels)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model_type", "deberta-v2");
            json.WriteStartArray("architectures");
            json.WriteStringValue("DebertaV2ForSequenceClassification");
            json.WriteEndArray();
            json.WriteNumber("vocab_size", vocabSize);
            json.WriteNumber("hidden_size", HiddenSize);
            json.WriteNumber("num_hidden_layers", Layers);
            json.WriteNumber("num_attention_heads", Heads);
            json.WriteNumber("intermediate_size", IntermediateSize);
            json.WriteString("hidden_act", "gelu");
            json.WriteNumber("hidden_dropout_prob", 0.1);
            json.WriteNumber("attention_probs_dropout_prob", 0.1);
            json.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            json.WriteNumber("type_vocab_size", 0);
            json.WriteNumber("initializer_range", 0.02);
            json.WriteNumber("layer_norm_eps", 1e-7);
            json.WriteBoolean("relative_attention", true);
            json.WriteNumber("max_relative_positions", -1);
            json.WriteNumber("position_buckets", PositionBuckets);
            json.WriteString("norm_rel_ebd", "layer_norm");
            json.WriteBoolean("share_att_key", true);
            json.WriteString("pos_att_type", "p2c|c2p");
            json.WriteBoolean("position_biased_input", false);
            json.WriteNumber("pad_token_id", 0);
            json.WriteNumber("pooler_hidden_size", HiddenSize);
            json.WriteNumber("pooler_dropout", 0);
            json.WriteString("pooler_hidden_act", "gelu");
            json.WriteStartObject("id2label");
            for (int i = 0; i < labels.Count; i++)
            {
                json.WriteString(i.ToString(System.Globalization.CultureInfo.InvariantCulture), labels[i]);
            }

            json.WriteEndObject();
            json.WriteStartObject("label2id");
            for (int i = 0; i < labels.Count; i++)
            {
                json.WriteNumber(labels[i], i);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
