namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Cheap checks on paths that may be bundles.</summary>
public static class BundleFile
{
    /// <summary>
    /// True when <paramref name="path"/> is a file that starts like a GGUF file: the magic <c>GGUF</c> and room for
    /// the 24-byte header. Reads 4 bytes; validates nothing else, so a GGUF file that is no bundle also passes —
    /// <see cref="ModelBundle.Open"/> decides. False for directories, missing or unreadable paths and short files.
    /// </summary>
    public static bool LooksLikeBundle(string path)
    {
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            return false;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
            if (stream.Length < Gguf.GgufFormat.HeaderBytes)
            {
                return false;
            }

            Span<byte> magic = stackalloc byte[4];
            return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length
                && magic.SequenceEqual(Gguf.GgufFormat.Magic);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
