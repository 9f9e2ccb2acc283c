using EdgeGuard.Models;
using EdgeGuard.Models.Gpt2;
using EdgeGuard.Models.Llama;

namespace EdgeGuard.Tests.Generation;

/// <summary>The <c>config.json</c> files of published decoders, as the Hub serves them, parse to the shapes they describe.</summary>
public sealed class PublishedDecoderConfigTests
{
    // meta-llama/Llama-3.2-1B: grouped-query attention, llama3 RoPE scaling, a list of EOS ids, tied head.
    private const string Llama32 = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
        "head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,"intermediate_size":8192,"max_position_embeddings":131072,"mlp_bias":false,
        "model_type":"llama","num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,
        "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
        "rope_theta":500000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.45.0.dev0","use_cache":true,"vocab_size":128256}
        """;

    // HuggingFaceTB/SmolLM2-135M: 9 heads on 3 KV heads, an integer rope_theta.
    private const string SmolLm2 = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":0,"eos_token_id":0,"hidden_act":"silu",
        "hidden_size":576,"initializer_range":0.041666666666666664,"intermediate_size":1536,"is_llama_config":true,"max_position_embeddings":8192,
        "mlp_bias":false,"model_type":"llama","num_attention_heads":9,"num_hidden_layers":30,"num_key_value_heads":3,"pretraining_tp":1,"rms_norm_eps":1e-05,
        "rope_interleaved":false,"rope_scaling":null,"rope_theta":100000,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.40.1",
        "use_cache":true,"vocab_size":49152}
        """;

    // Qwen/Qwen2.5-0.5B: q/k/v biases by model type, sliding window off.
    private const string Qwen25 = """
        {"architectures":["Qwen2ForCausalLM"],"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151643,"hidden_act":"silu","hidden_size":896,
        "initializer_range":0.02,"intermediate_size":4864,"max_position_embeddings":32768,"max_window_layers":24,"model_type":"qwen2","num_attention_heads":14,
        "num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":32768,"tie_word_embeddings":true,
        "torch_dtype":"bfloat16","transformers_version":"4.43.1","use_cache":true,"use_sliding_window":false,"vocab_size":151936}
        """;

    // openai-community/gpt2.
    private const string Gpt2 = """
        {"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],"attn_pdrop":0.1,"bos_token_id":50256,"embd_pdrop":0.1,"eos_token_id":50256,
        "initializer_range":0.02,"layer_norm_epsilon":1e-05,"model_type":"gpt2","n_ctx":1024,"n_embd":768,"n_head":12,"n_layer":12,"n_positions":1024,
        "resid_pdrop":0.1,"summary_activation":null,"summary_first_dropout":0.1,"summary_proj_to_labels":true,"summary_type":"cls_index","summary_use_proj":true,
        "task_specific_params":{"text-generation":{"do_sample":true,"max_length":50}},"vocab_size":50257}
        """;

    [Fact]
    public void Llama32_ParsesWithItsRopeScalingAndGroupedHeads()
    {
        var config = (LlamaConfig)ModelArchitectures.ParseConfig(Llama32, "Llama-3.2-1B").Config;
        Assert.Equal((32, 8, 64, 131072), (config.NumAttentionHeads, config.KeyValueHeads, config.HeadSize, config.MaxSequenceLength));
        Assert.Equal("llama3", config.RopeType);
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal(Llama32, config.ToJson());
    }

    [Fact]
    public void SmolLm2_ParsesWithThreeKeyValueHeads()
    {
        var config = (LlamaConfig)ModelArchitectures.ParseConfig(SmolLm2, "SmolLM2-135M").Config;
        Assert.Equal((9, 3, 64, 100000.0), (config.NumAttentionHeads, config.KeyValueHeads, config.HeadSize, config.RopeTheta));
        Assert.Equal("default", config.RopeType);
    }

    [Fact]
    public void Qwen25_ParsesAsQwen2WithBiases()
    {
        var config = Assert.IsType<Qwen2Config>(ModelArchitectures.ParseConfig(Qwen25, "Qwen2.5-0.5B").Config);
        Assert.True(config.QueryKeyValueBias);
        Assert.Equal((14, 2, 64), (config.NumAttentionHeads, config.KeyValueHeads, config.HeadSize));
    }

    [Fact]
    public void Gpt2_ParsesWithItsDefaults()
    {
        var config = Assert.IsType<Gpt2Config>(ModelArchitectures.ParseConfig(Gpt2, "gpt2").Config);
        Assert.Equal((768, 12, 3072, 1024), (config.NEmbd, config.NHead, config.IntermediateSize, config.MaxSequenceLength));
        Assert.True(config.TieWordEmbeddings);
    }
}
