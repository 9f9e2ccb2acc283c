namespace EdgeGuard.Kernels.Int8;

/// <summary>Reference twin of every vector <see cref="IInt8Dot"/>: plain int32 multiply-adds.</summary>
internal readonly unsafe struct ScalarDot : IInt8Dot
{
    public static void Dot4x2(sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3, sbyte* w0, sbyte* w1, int k, int sum0, int sum1, int* result)
    {
        int s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
        for (int i = 0; i < k; i++)
        {
            int p = w0[i], q = w1[i];
            s00 += x0[i] * p;
            s01 += x0[i] * q;
            s10 += x1[i] * p;
            s11 += x1[i] * q;
            s20 += x2[i] * p;
            s21 += x2[i] * q;
            s30 += x3[i] * p;
            s31 += x3[i] * q;
        }

        result[0] = s00;
        result[1] = s01;
        result[2] = s10;
        result[3] = s11;
        result[4] = s20;
        result[5] = s21;
        result[6] = s30;
        result[7] = s31;
    }
}
