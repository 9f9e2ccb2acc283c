using System.Net.Sockets;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// The Unix socket's file: a stale one (left by a crash) is replaced at start, a live one (another daemon) or a file
/// that is not a socket is never touched; the mode is 0660 once bound; the file is removed at stop.
/// </summary>
internal static class UnixSocketFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>Makes the path free to bind, or explains why it is not.</summary>
    public static void PrepareForBind(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);
        }

        if (!File.Exists(path))
        {
            if (Directory.Exists(path))
            {
                throw new DaemonConfigurationException($"socket path {path} is a directory.");
            }

            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new DaemonConfigurationException($"another process is listening on {path}; stop it or choose another --socket.");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a stale socket, or a regular file, told apart below.
            }
            catch (SocketException e)
            {
                throw new DaemonConfigurationException($"cannot check socket path {path}: {e.Message}.");
            }
        }

        if (IsRegularFile(path))
        {
            throw new DaemonConfigurationException($"{path} exists and is not a socket; remove it or choose another --socket.");
        }

        File.Delete(path);
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
            if (File.Exists(path) && !IsRegularFile(path))
            {
                File.Delete(path);
            }
        }
        catch (IOException)
        {
            // Best effort at stop: the next start replaces a stale file anyway.
        }
    }

    // open(2) of a socket fails (ENXIO); a regular file opens. No file-type API is public in .NET.
    private static bool IsRegularFile(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }
}
