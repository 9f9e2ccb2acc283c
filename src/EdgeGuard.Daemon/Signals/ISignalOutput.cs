namespace EdgeGuard.Daemon.Signals;

/// <summary>A binary output line, e.g. a GPIO pin driving a warning lamp. Boards without one get no implementation at all.</summary>
internal interface ISignalOutput : IDisposable
{
    /// <summary>Drives the line high (true) or low (false).</summary>
    void Write(bool raised);
}
