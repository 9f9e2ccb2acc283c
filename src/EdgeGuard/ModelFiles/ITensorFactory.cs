namespace EdgeGuard.ModelFiles;

/// <summary>
/// A tensor source with no file behind it: it makes each tensor a model loader asks for, with the name and shape asked.
/// Loading a model from one records exactly the tensors a real checkpoint of that config holds (random weights for
/// speed work, for example), with every weight name written once, in the model's loader.
/// </summary>
public interface ITensorFactory : ITensorSource
{
    /// <summary>The tensor <paramref name="name"/> of <paramref name="shape"/>, made on first request and the same one afterwards.</summary>
    ReadOnlyMemory<float> Create(string name, long[] shape);
}
