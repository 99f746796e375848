namespace MiniDocker.Runtime.Tests;

public sealed class RestartPolicyTests
{
    [Theory]
    [InlineData(null, "no", 0)]
    [InlineData("no", "no", 0)]
    [InlineData("always", "always", 0)]
    [InlineData("on-failure", "on-failure", 0)]
    [InlineData("on-failure:5", "on-failure", 5)]
    public void Parses_dockers_policies(string? text, string name, int max)
    {
        var p = RestartPolicy.Parse(text);
        Assert.Equal(name, p.Name);
        Assert.Equal(max, p.MaximumRetryCount);
    }

    [Theory]
    [InlineData("sometimes")]
    [InlineData("on-failure:x")]
    [InlineData("on-failure:-1")]
    [InlineData("always:3")]
    public void Refuses_anything_else(string text)
    {
        var e = Assert.Throws<ContainerException>(() => RestartPolicy.Parse(text));
        Assert.Contains("invalid restart policy", e.Message);
        Assert.Equal(125, e.ExitCode);
    }

    [Fact]
    public void On_failure_restarts_failures_up_to_the_limit()
    {
        var p = RestartPolicy.Parse("on-failure:2");
        Assert.True(p.ShouldRestart(exitCode: 3, restartCount: 0, stopRequested: false));
        Assert.True(p.ShouldRestart(3, 1, false));
        Assert.False(p.ShouldRestart(3, 2, false));
        Assert.False(p.ShouldRestart(0, 0, false));
        Assert.True(RestartPolicy.Parse("on-failure").ShouldRestart(1, 1000, false));
    }

    [Fact]
    public void Nothing_restarts_a_container_the_user_stopped()
    {
        Assert.True(RestartPolicy.Parse("always").ShouldRestart(0, 50, false));
        Assert.False(RestartPolicy.Parse("always").ShouldRestart(137, 0, stopRequested: true));
        Assert.False(RestartPolicy.Parse("on-failure").ShouldRestart(137, 0, stopRequested: true));
        Assert.False(RestartPolicy.Parse("no").ShouldRestart(1, 0, false));
    }

    [Fact]
    public void Back_off_doubles_from_100ms_and_stops_at_a_minute()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(100), RestartPolicy.Delay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), RestartPolicy.Delay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(800), RestartPolicy.Delay(3));
        Assert.Equal(TimeSpan.FromMinutes(1), RestartPolicy.Delay(40));
    }

    [Fact]
    public void Run_with_rm_and_a_restart_policy_conflict()
    {
        var image = new ImageDefaults("f00", "/images/f00/rootfs", ["sh"], [], [], null);
        var e = Assert.Throws<ContainerException>(() => ContainerConfigFactory.Create(
            new RunRequest { Image = "b", AutoRemove = true, Restart = "always" }, image, _ => null));
        Assert.Contains("--restart and --rm", e.Message);
        var c = ContainerConfigFactory.Create(new RunRequest { Image = "b", Restart = "on-failure:2" }, image, _ => null);
        Assert.Equal("on-failure:2", c.RestartPolicy.ToString());
    }
}

public sealed class SignalsTests
{
    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("sigterm", 15)]
    [InlineData("term", 15)]
    [InlineData("USR1", 10)]
    [InlineData("9", 9)]
    [InlineData("64", 64)]
    [InlineData("RTMIN", 34)]
    [InlineData("SIGRTMIN+3", 37)]
    [InlineData("RTMAX-1", 63)]
    public void Parses_names_and_numbers(string text, int expected) => Assert.Equal(expected, Signals.Parse(text));

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("NOPE")]
    [InlineData("SIG")]
    [InlineData("RTMIN+40")]
    [InlineData("RTMIN-1")]
    [InlineData("")]
    public void Refuses_what_is_not_a_signal(string text)
    {
        var e = Assert.Throws<ContainerException>(() => Signals.Parse(text));
        Assert.Equal($"invalid signal: {text}", e.Message);
        Assert.Equal(1, e.ExitCode);
    }
}
