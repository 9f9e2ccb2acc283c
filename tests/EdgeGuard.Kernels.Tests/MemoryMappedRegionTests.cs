using EdgeGuard.Kernels.Memory;

namespace EdgeGuard.Kernels.Tests;

public sealed class MemoryMappedRegionTests
{
    [Fact]
    public void GetMemory_ReadsFloatsWrittenToTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            float[] values = [1.5f, -2f, 3.25f];
            byte[] bytes = new byte[4 + values.Length * 4];
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bytes.AsSpan(4));
            File.WriteAllBytes(path, bytes);
            using var region = MemoryMappedRegion.Open(path);
            Assert.Equal(bytes.Length, region.Length);
            Assert.Equal(values, region.GetMemory<float>(4, 3).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void GetMemory_OutsideTheFile_Throws()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[16]);
            using var region = MemoryMappedRegion.Open(path);
            Assert.Throws<ArgumentOutOfRangeException>(() => region.GetMemory<float>(8, 3));
            Assert.Throws<ArgumentException>(() => region.GetMemory<float>(2, 1));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Memory_AfterDispose_Throws()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[16]);
            var region = MemoryMappedRegion.Open(path);
            var memory = region.GetMemory<float>(0, 4);
            region.Dispose();
            Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
