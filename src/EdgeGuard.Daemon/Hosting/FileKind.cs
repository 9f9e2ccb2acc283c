using System.Runtime.InteropServices;
using System.Text;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>What a path names once symbolic links are followed, from <c>statx(2)</c>.</summary>
internal enum FileKind
{
    /// <summary>Nothing there (or a dangling link).</summary>
    Missing,

    RegularFile,

    Directory,

    /// <summary>A FIFO: opening it for reading waits until some process opens it for writing, maybe forever.</summary>
    Fifo,

    CharacterDevice,

    BlockDevice,

    Socket,

    /// <summary>The type could not be read (no permission on a parent, no <c>statx</c>); opening will say more.</summary>
    Unknown,
}

/// <summary>
/// Tells regular files from FIFOs, devices and sockets before anything opens them: .NET has no public file-type API, and
/// <c>open(2)</c> of a FIFO or a serial device blocks, which would wedge whoever opens it (a start, a reload).
/// </summary>
internal static class FileKinds
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int ModeOffset = 0x1C;
    private const int NoEntry = 2;
    private const int NotDirectory = 20;

    /// <summary>The kind of file <paramref name="path"/> names, following symbolic links.</summary>
    public static FileKind Of(string path)
    {
        // struct statx has one layout on every architecture, unlike struct stat, so one declaration serves x64 and arm64.
        byte[] buffer = new byte[StatxSize];
        int result;
        try
        {
            result = Statx(AtFdCwd, Encoding.UTF8.GetBytes(path + "\0"), 0, StatxType, buffer);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return FileKind.Unknown;
        }

        if (result != 0)
        {
            return Marshal.GetLastPInvokeError() is NoEntry or NotDirectory ? FileKind.Missing : FileKind.Unknown;
        }

        int mode = BitConverter.ToUInt16(buffer, ModeOffset);
        return (mode & 0xF000) switch
        {
            0x8000 => FileKind.RegularFile,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Unknown,
        };
    }

    /// <summary>Words for a message: "a FIFO", "a character device"...</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.RegularFile => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "of an unknown kind",
    };

    /// <summary>
    /// Null when <paramref name="path"/> is a regular file (or missing, or unreadable: opening reports those); else why it
    /// will not be opened.
    /// </summary>
    public static string? RefuseUnlessRegularFile(string path)
    {
        var kind = Of(path);
        return kind is FileKind.RegularFile or FileKind.Missing or FileKind.Unknown
            ? null
            : $"{path} is {Describe(kind)}, not a regular file";
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directoryFd, byte[] path, int flags, uint mask, byte[] buffer);
}
