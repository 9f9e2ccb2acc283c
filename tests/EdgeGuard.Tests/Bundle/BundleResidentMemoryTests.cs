using EdgeGuard.ModelFiles.Bundle;

namespace EdgeGuard.Tests.Bundle;

/// <summary>What opening a bundle leaves in the process's resident memory.</summary>
public sealed class BundleResidentMemoryTests
{
    [Fact]
    public void Open_VerifyingTheChecksum_DoesNotLeaveTheTensorDataResident()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Resident file pages are read from /proc/self/status.");
        using var temp = new TempDirectory();
        string path = temp.File("large.gguf");
        const int rows = 16384, columns = 1024; // 64 MiB of float32
        var random = new Random(5);
        float[] table = new float[rows * columns];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = (float)random.NextDouble();
        }

        var weights = new InMemoryTensorSource().AddF32("deberta.embeddings.word_embeddings.weight", [rows, columns], table);
        BundleWriter.Write(path, SampleBundle.Contents(), weights);
        table = [];

        long before = ResidentFileKilobytes();
        using ModelBundle bundle = ModelBundle.Open(path, verifyTensorData: true);
        long grown = ResidentFileKilobytes() - before;

        // The hash read all 64 MiB through the map; without eviction all of it would stay resident.
        Assert.True(grown < 16 * 1024, $"resident file memory grew by {grown} kB on open");
        Assert.Equal(rows * columns, bundle.ReadFloat32("deberta.embeddings.word_embeddings.weight").Length);
    }

    private static long ResidentFileKilobytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssFile:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(8).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("/proc/self/status has no RssFile line.");
    }
}
