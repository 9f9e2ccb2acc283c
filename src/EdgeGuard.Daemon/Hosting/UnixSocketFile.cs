using System.Net.Sockets;
using System.Text;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// The Unix socket's file: a stale one (left by a crash) is replaced at start, a live one (another daemon) or a file
/// that is not a socket is never touched; the path is tried before the server starts, so that a path the daemon cannot
/// bind is a one-line configuration error; the mode is 0660 once bound; the file is removed at stop.
/// </summary>
internal static class UnixSocketFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>sockaddr_un.sun_path holds 108 bytes on Linux, the terminating NUL included.</summary>
    public const int MaxPathBytes = 107;

    /// <summary>Makes the path free to bind, or explains why it is not.</summary>
    public static void PrepareForBind(string path)
    {
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
        {
            throw new DaemonConfigurationException(
                $"socket path {path} is {bytes} bytes long; a Unix socket path may have at most {MaxPathBytes}. Choose a shorter --socket.");
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        try
        {
            if (directory is not null && !Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigurationException($"cannot create the directory of socket path {path}: {e.Message}");
        }

        var kind = FileKinds.Of(path);
        switch (kind)
        {
            case FileKind.Missing or FileKind.Unknown:
                // Nothing there, or nothing that can be looked at: the trial bind below tells.
                break;
            case FileKind.Socket:
                RemoveIfStale(path);
                break;
            default:
                throw new DaemonConfigurationException($"{path} exists and is {FileKinds.Describe(kind)}, not a socket; remove it or choose another --socket.");
        }

        TryBind(path);
    }

    /// <summary>Restricts the bound socket to its owner and group (the clients' group in the systemd unit).</summary>
    public static void Restrict(string path)
    {
        // Windows has AF_UNIX sockets but no Unix modes; its ACLs are out of this daemon's scope.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, Mode);
        }
    }

    public static void Remove(string path)
    {
        try
        {
            if (FileKinds.Of(path) == FileKind.Socket)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort at stop: the next start replaces a stale file anyway.
        }
    }

    private static void RemoveIfStale(string path)
    {
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new DaemonConfigurationException($"another process is listening on {path}; stop it or choose another --socket.");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a stale socket.
            }
            catch (SocketException e)
            {
                throw new DaemonConfigurationException($"cannot check socket path {path}: {e.Message}.");
            }
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigurationException($"cannot remove the stale socket {path}: {e.Message}");
        }
    }

    /// <summary>Binds the path once and removes it again: permissions and file systems are found out here, not when the server starts.</summary>
    private static void TryBind(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Bind(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            throw new DaemonConfigurationException($"cannot create socket {path}: {e.Message}; choose a directory the daemon may write (--socket).");
        }

        File.Delete(path);
    }
}
