namespace EdgeGuard.Models.Layers;

/// <summary>
/// Sees what a decoder's linear layers multiply: called by the graph with each layer's input rows just before the layer
/// runs them (activation statistics for pruning, for example). Set per conversation on <see cref="DecoderState"/>.
/// </summary>
internal interface ILinearInputObserver
{
    /// <summary><paramref name="rows"/> rows of <see cref="Linear.InFeatures"/> values about to go through <paramref name="layer"/>.</summary>
    void Observe(Linear layer, ReadOnlySpan<float> input, int rows);
}
