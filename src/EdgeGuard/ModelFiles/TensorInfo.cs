namespace EdgeGuard.ModelFiles;

/// <summary>Name, element type and shape (outermost dimension first) of one stored tensor.</summary>
public sealed record TensorInfo(string Name, TensorDType DType, IReadOnlyList<long> Shape)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape)
            {
                n = checked(n * d);
            }

            return n;
        }
    }

    /// <summary>Shape as text, e.g. <c>[1024, 4096]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
