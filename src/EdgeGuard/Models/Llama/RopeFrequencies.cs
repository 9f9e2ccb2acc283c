namespace EdgeGuard.Models.Llama;

/// <summary>
/// The rotary embedding's inverse frequencies, <c>inv_freqᵢ = rope_theta^(−2i/head_dim)</c>, and with the <c>llama3</c>
/// <c>rope_scaling</c> type (Llama 3.1/3.2) their rescaling: wavelengths <c>2π/inv_freq</c> longer than
/// <c>original_max_position_embeddings / low_freq_factor</c> slow down by <c>factor</c>, those shorter than
/// <c>… / high_freq_factor</c> stay, and the band between blends the two by how many turns the wavelength makes in the
/// original context.
/// </summary>
/// <remarks>
/// Computed in float32 step by step as Hugging Face's <c>modeling_rope_utils</c> computes its tensors, so the angles
/// (<c>position · inv_freq</c>, also float32) are the reference's.
/// </remarks>
internal static class RopeFrequencies
{
    public static float[] Compute(LlamaConfig config)
    {
        int dim = config.HeadSize;
        var inverse = new float[dim / 2];
        for (int i = 0; i < inverse.Length; i++)
        {
            float exponent = (2f * i) / dim;
            inverse[i] = 1f / (float)Math.Pow(config.RopeTheta, exponent);
        }

        if (config.RopeType == "llama3")
        {
            ApplyLlama3(inverse, config.RopeVariant!);
        }

        return inverse;
    }

    private static void ApplyLlama3(float[] inverse, RopeScaling scaling)
    {
        float factor = (float)scaling.Factor!.Value;
        float low = (float)scaling.LowFreqFactor!.Value, high = (float)scaling.HighFreqFactor!.Value;
        float original = scaling.OriginalMaxPositionEmbeddings!.Value;
        float lowFrequencyWavelength = original / low;
        float highFrequencyWavelength = original / high;
        for (int i = 0; i < inverse.Length; i++)
        {
            float frequency = inverse[i];
            float wavelength = (float)(2 * Math.PI) / frequency;
            float scaled = wavelength > lowFrequencyWavelength ? frequency / factor : frequency;
            bool medium = !(wavelength < highFrequencyWavelength) && !(wavelength > lowFrequencyWavelength);
            if (medium)
            {
                float smooth = ((original / wavelength) - low) / (high - low);
                scaled = ((1 - smooth) * scaled / factor) + (smooth * scaled);
            }

            inverse[i] = scaled;
        }
    }
}
