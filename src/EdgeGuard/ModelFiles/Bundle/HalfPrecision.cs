using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Conversions between float32 and the two 16-bit float formats tensors may be stored in.</summary>
internal static class HalfPrecision
{
    /// <summary>Widens little-endian IEEE binary16 values; exact.</summary>
    public static void WidenF16(ReadOnlySpan<byte> source, Span<float> destination) =>
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);

    /// <summary>Widens little-endian bfloat16 values (the upper halves of float32 values); exact.</summary>
    public static void WidenBF16(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<ushort> halves = MemoryMarshal.Cast<byte, ushort>(source);
        for (int i = 0; i < halves.Length; i++)
        {
            destination[i] = BitConverter.Int32BitsToSingle(halves[i] << 16);
        }
    }

    /// <summary>Narrows to binary16; false when some value would not survive the round trip bit for bit.</summary>
    public static bool TryNarrowToF16(ReadOnlySpan<float> source, Span<byte> destination)
    {
        Span<Half> halves = MemoryMarshal.Cast<byte, Half>(destination);
        TensorPrimitives.ConvertToHalf(source, halves);
        for (int i = 0; i < source.Length; i++)
        {
            if (BitConverter.SingleToUInt32Bits((float)halves[i]) != BitConverter.SingleToUInt32Bits(source[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Narrows to bfloat16; false when some value has low mantissa bits bfloat16 would drop.</summary>
    public static bool TryNarrowToBF16(ReadOnlySpan<float> source, Span<byte> destination)
    {
        Span<ushort> halves = MemoryMarshal.Cast<byte, ushort>(destination);
        for (int i = 0; i < source.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(source[i]);
            if ((bits & 0xFFFF) != 0)
            {
                return false;
            }

            halves[i] = (ushort)(bits >> 16);
        }

        return true;
    }
}
