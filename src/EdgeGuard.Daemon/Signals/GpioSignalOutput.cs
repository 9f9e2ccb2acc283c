using System.Device.Gpio;
using System.Device.Gpio.Drivers;

namespace EdgeGuard.Daemon.Signals;

/// <summary>A GPIO line through the Linux character device (<c>/dev/gpiochipN</c>), driven low at start and at stop.</summary>
internal sealed class GpioSignalOutput : ISignalOutput
{
    private readonly GpioController _controller;
    private readonly int _line;

    public GpioSignalOutput(int chip, int line)
    {
        _line = line;
        _controller = new GpioController(new LibGpiodDriver(chip));
        try
        {
            _controller.OpenPin(line, PinMode.Output, PinValue.Low);
        }
        catch
        {
            _controller.Dispose();
            throw;
        }
    }

    public void Write(bool raised) => _controller.Write(_line, raised ? PinValue.High : PinValue.Low);

    public void Dispose()
    {
        _controller.Write(_line, PinValue.Low);
        _controller.Dispose();
    }
}
