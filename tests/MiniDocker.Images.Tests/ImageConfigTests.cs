namespace MiniDocker.Images.Tests;

public sealed class ImageConfigTests
{
    [Fact]
    public void CmdJsonArrayIsExecForm()
    {
        var config = ImageConfig.FromChanges(["CMD [\"sh\", \"-c\", \"echo hi\"]"]);

        Assert.Equal(["sh", "-c", "echo hi"], config.Cmd);
    }

    [Fact]
    public void VolumeTakesAJsonArrayOrPathsAndRefusesRelativeOnesAndColons()
    {
        var config = ImageConfig.FromChanges(["VOLUME [\"/data\", \"/logs\"]", "volume /cache /data"]);
        Assert.Equal(["/data", "/logs", "/cache"], config.Volumes!);

        Assert.Contains("must be absolute", Assert.Throws<ImageException>(() => ImageConfig.FromChanges(["VOLUME data"])).Message);
        // An image's volume must never read as -v's "host:container" (a bind of the host's /etc).
        Assert.Contains("no ':'", Assert.Throws<ImageException>(() => ImageConfig.FromChanges(["VOLUME /x:/etc"])).Message);
        Assert.Contains("JSON array", Assert.Throws<ImageException>(() => ImageConfig.FromChanges(["VOLUME [/a"])).Message);
    }

    [Fact]
    public void CmdShellFormRunsThroughBinSh()
    {
        var config = ImageConfig.FromChanges(["cmd echo $HOME && ls"]);

        Assert.Equal(["/bin/sh", "-c", "echo $HOME && ls"], config.Cmd);
    }

    [Fact]
    public void MalformedJsonFallsBackToShellFormAsInDocker()
    {
        var config = ImageConfig.FromChanges(["ENTRYPOINT [not json]"]);

        Assert.Equal(["/bin/sh", "-c", "[not json]"], config.Entrypoint);
    }

    [Fact]
    public void EnvPairsQuotedValuesAndLegacyFormMerge()
    {
        var config = ImageConfig.FromChanges([
            "ENV PATH=/bin:/usr/bin GREETING=\"hello world\"",
            "ENV NAME Jane Doe",
            "ENV GREETING=bye",
        ]);

        Assert.Equal(["PATH=/bin:/usr/bin", "NAME=Jane Doe", "GREETING=bye"], config.Env);
    }

    [Fact]
    public void WorkdirRelativeExtendsThePreviousOne()
    {
        Assert.Equal("/srv/app", ImageConfig.FromChanges(["WORKDIR /srv", "WORKDIR app"]).WorkingDir);
        Assert.Equal("/data", ImageConfig.FromChanges(["WORKDIR data"]).WorkingDir);
    }

    [Fact]
    public void ExposeNormalisesProtocols()
    {
        var config = ImageConfig.FromChanges(["EXPOSE 80 53/udp", "EXPOSE 80/TCP 8080/tcp"]);

        Assert.Equal(["80/tcp", "53/udp", "8080/tcp"], config.ExposedPorts);
    }

    [Theory]
    [InlineData("RUN apt-get update", "change 'RUN apt-get update': unsupported instruction 'RUN' (allowed: CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, VOLUME)")]
    [InlineData("EXPOSE 70000", "change 'EXPOSE 70000': invalid port '70000' (expected 1-65535[/tcp|/udp])")]
    [InlineData("EXPOSE 80/sctp", "change 'EXPOSE 80/sctp': invalid port '80/sctp' (expected 1-65535[/tcp|/udp])")]
    [InlineData("CMD", "change 'CMD': CMD needs an argument")]
    [InlineData("ENV =x", "change 'ENV =x': ENV expects KEY=VALUE pairs, got '=x'")]
    [InlineData("ENV A=\"open", "change 'ENV A=\"open': unterminated \" quote")]
    public void InvalidChangesAreRejectedWithTheReason(string change, string message)
    {
        var error = Assert.Throws<ImageException>(() => ImageConfig.FromChanges([change]));

        Assert.Equal(message, error.Message);
    }
}
