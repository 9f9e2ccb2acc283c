namespace EdgeGuard.Kernels.Float32;

public static unsafe partial class Gemm
{
    /// <summary>Reference for <see cref="MultiplyTransposedTiles{TOps, TVector}"/>: one dot product per output.</summary>
    private static void MultiplyTransposedScalar(in TransposedArgs a, int m0, int m1, int n0, int n1)
    {
        for (int m = m0; m < m1; m++)
        {
            float* x = a.X + ((long)m * a.Ldx);
            float* y = a.Y + ((long)m * a.Ldy);
            for (int n = n0; n < n1; n++)
            {
                float* w = a.W + ((long)n * a.Ldw);
                float sum = 0;
                for (int k = 0; k < a.K; k++)
                {
                    sum += x[k] * w[k];
                }

                y[n] = a.Bias == null ? sum : sum + a.Bias[n];
            }
        }
    }

    /// <summary>Reference for <see cref="MultiplyTiles{TOps, TVector}"/>.</summary>
    private static void MultiplyScalar(in PlainArgs a, int m0, int m1)
    {
        for (int m = m0; m < m1; m++)
        {
            float* x = a.X + ((long)m * a.Ldx);
            float* y = a.Y + ((long)m * a.Ldy);
            for (int n = 0; n < a.N; n++)
            {
                float sum = 0;
                for (int k = 0; k < a.K; k++)
                {
                    sum += x[k] * a.B[((long)k * a.Ldb) + n];
                }

                y[n] = sum;
            }
        }
    }
}
