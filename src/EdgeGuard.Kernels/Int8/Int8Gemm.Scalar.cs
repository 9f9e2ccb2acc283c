namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// Reference twin of every vector <see cref="IInt8Tile"/>: plain int32 multiply-adds over the panel layout, reading
/// the stored activation bytes as <typeparamref name="TActivations"/> says (signed, or unsigned when they carry an
/// offset), so it checks every kernel on the very rows that kernel reads.
/// </summary>
internal readonly unsafe struct ScalarTile<TActivations> : IInt8Tile
    where TActivations : struct, IActivationBytes
{
    public static void Tile(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* panel, int k, int* dots)
    {
        const int width = PackedInt8Matrix.PanelWidth, depth = PackedInt8Matrix.StepDepth;
        sbyte** rows = stackalloc sbyte*[4] { x0, x1, x2, x3 };
        for (int r = 0; r < 4; r++)
        {
            for (int c = 0; c < width; c++)
            {
                int sum = 0;
                for (int i = 0; i < k; i++)
                {
                    sum += TActivations.Read(rows[r][i]) * panel[(i / depth * width * depth) + (c * depth) + (i % depth)];
                }

                dots[(r * width) + c] = sum;
            }
        }
    }
}

/// <summary>
/// Reference twin of every vector <see cref="IInt8Row"/>: one row's plain int32 multiply-adds over the panel layout,
/// reading the stored bytes as <see cref="ScalarTile{TActivations}"/> does.
/// </summary>
internal readonly unsafe struct ScalarRow<TActivations> : IInt8Row
    where TActivations : struct, IActivationBytes
{
    public static void Row(sbyte* x, sbyte* panel, int k, int* dots)
    {
        const int width = PackedInt8Matrix.PanelWidth, depth = PackedInt8Matrix.StepDepth;
        for (int c = 0; c < width; c++)
        {
            int sum = 0;
            for (int i = 0; i < k; i++)
            {
                sum += TActivations.Read(x[i]) * panel[(i / depth * width * depth) + (c * depth) + (i % depth)];
            }

            dots[c] = sum;
        }
    }
}

/// <summary>How the scalar twin reads a stored activation byte.</summary>
internal interface IActivationBytes
{
    static abstract int Read(sbyte stored);
}

internal readonly struct SignedActivations : IActivationBytes
{
    public static int Read(sbyte stored) => stored;
}

internal readonly struct UnsignedActivations : IActivationBytes
{
    public static int Read(sbyte stored) => (byte)stored;
}
