using MiniDocker.Cli.Commands;

namespace MiniDocker.Cli.Tests;

/// <summary>stats' columns as Docker prints them (go-units sizes) and its reading of /proc/PID/net/dev.</summary>
public sealed class StatsFormatTests
{
    [Theory]
    [InlineData(0, "0B")]
    [InlineData(196608, "192KiB")]
    [InlineData(67108864, "64MiB")]
    [InlineData(1610612736, "1.5GiB")]
    [InlineData(1234567, "1.177MiB")]
    public void Memory_is_in_binary_units_with_four_digits(double bytes, string shown) => Assert.Equal(shown, StatsCommand.BinarySize(bytes));

    [Theory]
    [InlineData(0, "0B")]
    [InlineData(1234, "1.23kB")]
    [InlineData(5_600_000, "5.6MB")]
    public void Io_is_in_decimal_units_with_three_digits(double bytes, string shown) => Assert.Equal(shown, StatsCommand.DecimalSize(bytes));

    [Fact]
    public void Network_bytes_are_every_interface_but_loopback()
    {
        const string netDev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:    9999       9    0    0    0     0          0         0     9999       9    0    0    0     0       0          0
              eth0:    1500      10    0    0    0     0          0         0      700       5    0    0    0     0       0          0
              eth1:      12       1    0    0    0     0          0         0       30       1    0    0    0     0       0          0
            """;
        Assert.Equal((1512UL, 730UL), StatsCommand.ParseNetDev(netDev));
    }

    [Fact]
    public void The_default_table_has_dockers_columns()
    {
        var text = Templates.FormatOutput.RenderList(null, [], StatsCommand.DefaultTable, StatsCommand.Headers);
        Assert.Equal("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\n", text);
    }
}
