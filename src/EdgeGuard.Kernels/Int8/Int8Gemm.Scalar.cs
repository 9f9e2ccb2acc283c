namespace EdgeGuard.Kernels.Int8;

/// <summary>Reference twin of every vector <see cref="IInt8Tile"/>: plain int32 multiply-adds over the panel layout.</summary>
internal readonly unsafe struct ScalarTile : IInt8Tile
{
    public static int ActivationOffset => 0;

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
                    sum += rows[r][i] * panel[(i / depth * width * depth) + (c * depth) + (i % depth)];
                }

                dots[(r * width) + c] = sum;
            }
        }
    }
}
