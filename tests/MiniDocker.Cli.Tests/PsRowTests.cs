using MiniDocker.Cli.Commands;
using MiniDocker.Cli.Templates;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Tests;

/// <summary>The fields `ps --format` offers, with the values Docker's ps formatter gives them.</summary>
public class PsRowTests
{
    private static readonly DateTimeOffset Now = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static Lifecycle.Observed Container(ContainerStatus status, params string[] args) => new(
        new ContainerStore.Entry(
            new ContainerConfig
            {
                Id = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c", Name = "web", Image = "busybox",
                Args = [.. args], NetworkMode = "bridge", Created = Now.AddMinutes(-2),
            },
            new ContainerState { Status = status, StartedAt = Now.AddMinutes(-2), FinishedAt = Now.AddSeconds(-3), ExitCode = 3 }),
        status);

    [Fact]
    public void A_row_has_dockers_fields_and_values()
    {
        var row = PsCommand.Row(Container(ContainerStatus.Running, "sleep", "600"), "0.0.0.0:8080->80/tcp", truncate: true, Now);
        Assert.Equal(
            ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports",
             "RunningFor", "Size", "State", "Status"],
            row.Select(kv => kv.Key));
        Assert.Equal("4f1c2d3e4f5a|web|busybox|\"sleep 600\"|2 minutes ago|Up 2 minutes|running|0.0.0.0:8080->80/tcp|bridge",
            Template.Parse("{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.RunningFor}}|{{.Status}}|{{.State}}|{{.Ports}}|{{.Networks}}").Execute(row));
        Assert.Matches(@"^2024-05-01 \d\d:58:00 [+-]\d{4} \S+$", row["CreatedAt"]!.GetValue<string>());
    }

    [Fact]
    public void Command_is_cut_at_20_characters_and_quoted_as_go_quotes()
    {
        var cut = PsCommand.Row(Container(ContainerStatus.Exited, "/docker-entrypoint.sh", "nginx", "-g", "daemon off;"), "", true, Now);
        Assert.Equal("\"/docker-entrypoint.…\"", cut["Command"]!.GetValue<string>());
        Assert.Equal("Exited (3) 3 seconds ago", cut["Status"]!.GetValue<string>());
        Assert.Equal("exited", cut["State"]!.GetValue<string>());

        var full = PsCommand.Row(Container(ContainerStatus.Running, "sh", "-c", "echo \"hi\"\tthere"), "", truncate: false, Now);
        Assert.Equal("\"sh -c echo \\\"hi\\\"\\tthere\"", full["Command"]!.GetValue<string>());
        Assert.Equal(64, full["ID"]!.GetValue<string>().Length);
    }

    [Theory]
    [InlineData("short", "short")]
    [InlineData("exactly twenty chars", "exactly twenty chars")]
    [InlineData("twenty-one characters", "twenty-one characte…")]
    [InlineData("ééééééééééééééééééééé", "ééééééééééééééééééé…")]
    public void Ellipsis_keeps_at_most_the_width(string input, string expected) => Assert.Equal(expected, PsCommand.Ellipsis(input, 20));
}
