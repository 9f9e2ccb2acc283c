using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeGuard.Models.Bert;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Models.Llama;

namespace EdgeGuard.Tooling;

/// <summary>Dimensions of a published checkpoint size (an encoder classifier or a decoder language model), for random-weight models of it.</summary>
/// <param name="Name">The shape's name (<c>base</c>, <c>minilm-l6</c>, <c>smollm2-135m</c>, …).</param>
/// <param name="Architecture">The <c>model_type</c>.</param>
/// <param name="PositionBuckets">DeBERTa's relative-position buckets; unused by the other architectures.</param>
/// <param name="KeyValueHeads">A Llama decoder's key/value heads (grouped-query attention); unused by encoders.</param>
public sealed record ModelShape(string Name, string Architecture, int Layers, int HiddenSize, int Heads, int IntermediateSize, int MaxPositionEmbeddings, int PositionBuckets = 0, int KeyValueHeads = 0)
{
    /// <summary>
    /// The published DeBERTa-v3 sizes (and <c>tiny</c> for tests), BERT-family sizes (all-MiniLM-L6-v2, BERT-base) and
    /// RoBERTa sizes (distilroberta, RoBERTa-base), with small ones of each for tests.
    /// </summary>
    public static IReadOnlyList<ModelShape> All { get; } =
    [
        new("tiny", DebertaArchitecture.ModelTypeName, 2, 64, 2, 128, 512, 64),
        new("xsmall", DebertaArchitecture.ModelTypeName, 12, 384, 6, 1536, 512, 256),
        new("small", DebertaArchitecture.ModelTypeName, 6, 768, 12, 3072, 512, 256),
        new("base", DebertaArchitecture.ModelTypeName, 12, 768, 12, 3072, 512, 256),
        new("large", DebertaArchitecture.ModelTypeName, 24, 1024, 16, 4096, 512, 256),
        new("bert-tiny", BertArchitecture.ModelTypeName, 2, 64, 2, 128, 512),
        new("minilm-l6", BertArchitecture.ModelTypeName, 6, 384, 12, 1536, 512),
        new("bert-base", BertArchitecture.ModelTypeName, 12, 768, 12, 3072, 512),
        new("roberta-tiny", RobertaArchitecture.ModelTypeName, 2, 64, 2, 128, 514),
        new("distilroberta", RobertaArchitecture.ModelTypeName, 6, 768, 12, 3072, 514),
        new("roberta-base", RobertaArchitecture.ModelTypeName, 12, 768, 12, 3072, 514),
        new("llama-tiny", LlamaArchitecture.LlamaModelType, 2, 64, 4, 128, 256, KeyValueHeads: 2),
        new("smollm2-135m", LlamaArchitecture.LlamaModelType, 30, 576, 9, 1536, 2048, KeyValueHeads: 3),
        // A partner of about a tenth of smollm2-135m's parameters with its vocabulary, for offset and contrastive decoding.
        new("smollm2-partner", LlamaArchitecture.LlamaModelType, 4, 192, 3, 512, 2048, KeyValueHeads: 1),
    ];

    /// <summary>The shape called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static ModelShape Get(string name) =>
        All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model shape '{name}'; known shapes: {string.Join(", ", All.Select(s => s.Name))}.", nameof(name));

    /// <summary>Whether the shape is a decoder language model (no labels, no classifier head).</summary>
    public bool IsDecoder => Architecture == LlamaArchitecture.LlamaModelType;

    /// <summary>A Hugging Face <c>config.json</c> for a sequence classifier of this shape, or a causal LM's for a decoder shape (<paramref name="labels"/> unused).</summary>
    public string ToConfigJson(int vocabSize, IReadOnlyList<string> labels)
    {
        if (IsDecoder)
        {
            return ToDecoderConfigJson(vocabSize);
        }

        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model_type", Architecture);
            json.WriteStartArray("architectures");
            json.WriteStringValue(Architecture switch
            {
                DebertaArchitecture.ModelTypeName => "DebertaV2ForSequenceClassification",
                RobertaArchitecture.ModelTypeName => "RobertaForSequenceClassification",
                _ => "BertForSequenceClassification",
            });
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
            json.WriteNumber("initializer_range", 0.02);
            if (Architecture == DebertaArchitecture.ModelTypeName)
            {
                WriteDebertaFields(json);
            }
            else
            {
                bool roberta = Architecture == RobertaArchitecture.ModelTypeName;
                json.WriteNumber("type_vocab_size", roberta ? 1 : 2);
                json.WriteNumber("layer_norm_eps", roberta ? 1e-5 : 1e-12);
                json.WriteNumber("pad_token_id", roberta ? 1 : 0);
                json.WriteString("position_embedding_type", "absolute");
            }

            json.WriteStartObject("id2label");
            for (int i = 0; i < labels.Count; i++)
            {
                json.WriteString(i.ToString(CultureInfo.InvariantCulture), labels[i]);
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

    private string ToDecoderConfigJson(int vocabSize)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("model_type", Architecture);
            json.WriteStartArray("architectures");
            json.WriteStringValue("LlamaForCausalLM");
            json.WriteEndArray();
            json.WriteNumber("vocab_size", vocabSize);
            json.WriteNumber("hidden_size", HiddenSize);
            json.WriteNumber("num_hidden_layers", Layers);
            json.WriteNumber("num_attention_heads", Heads);
            json.WriteNumber("num_key_value_heads", KeyValueHeads == 0 ? Heads : KeyValueHeads);
            json.WriteNumber("intermediate_size", IntermediateSize);
            json.WriteString("hidden_act", "silu");
            json.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            json.WriteNumber("rms_norm_eps", 1e-5);
            json.WriteNumber("rope_theta", 10000.0);
            json.WriteBoolean("tie_word_embeddings", true);
            json.WriteNumber("initializer_range", 0.02);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private void WriteDebertaFields(Utf8JsonWriter json)
    {
        json.WriteNumber("type_vocab_size", 0);
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
    }
}
