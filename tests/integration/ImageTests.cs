namespace MiniDocker.IntegrationTests;

/// <summary>The image verbs through the CLI.</summary>
public sealed class ImageTests : IDisposable
{
    private readonly MiniDocker _md = new();
    public void Dispose() => _md.Dispose();

    [Fact]
    public void Images_lists_and_rm_untags_then_deletes_the_last_reference()
    {
        Assert.Equal(0, _md.Run("image", "import", MiniDocker.BusyboxTar, "other:v1").ExitCode);
        Assert.Matches(@"REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n(\S+\s+\S+\s+[0-9a-f]{12}\s+.+\n){2}", _md.Run("images").Stdout);

        Assert.Equal("Untagged: other:v1\n", _md.Run("image", "rm", "other:v1").Stdout);
        var last = _md.Run("image", "rm", "busybox").Stdout;
        Assert.Matches("^Untagged: busybox:latest\nDeleted: sha256:[0-9a-f]{64}\n$", last);
        Assert.Equal(125, _md.Run("run", "--rm", "busybox", "true").ExitCode);
    }
}
