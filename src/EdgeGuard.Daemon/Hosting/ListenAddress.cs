using System.Net;
using System.Net.Sockets;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>The TCP listener's address, tried before the server starts so that a wrong one is a one-line configuration error.</summary>
internal static class ListenAddress
{
    /// <summary>Binds (and releases) <paramref name="host"/>:<paramref name="port"/>, or explains why that is impossible.</summary>
    public static void CheckBindable(IPAddress host, int port)
    {
        try
        {
            using var probe = new Socket(host.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(host, port));
        }
        catch (SocketException e)
        {
            string key = DaemonSettings.Section + ":Host";
            throw new DaemonConfigurationException(e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable =>
                    $"{key} {host} is not an address of this machine; use 127.0.0.1, ::1, 0.0.0.0, :: or one of its own addresses.",
                SocketError.AddressAlreadyInUse => $"port {port} on {host} is in use by another process; stop it or choose another --port.",
                SocketError.AccessDenied => $"listening on {host} port {port} is not permitted (ports below 1024 need a privilege); choose another --port.",
                SocketError.AddressFamilyNotSupported => $"{key} {host}: this machine has no {(host.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")}.",
                _ => $"cannot listen on {host} port {port}: {e.Message}.",
            });
        }
    }
}
