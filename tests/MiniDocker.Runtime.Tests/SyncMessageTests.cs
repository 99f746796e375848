namespace MiniDocker.Runtime.Tests;

public sealed class SyncMessageTests
{
    public static TheoryData<SyncMessage> Messages => new()
    {
        new SyncMessage.Mounted(), new SyncMessage.Start(), new SyncMessage.Started(), new SyncMessage.Pty(7),
        new SyncMessage.Failed(127, "exec: \"nope\": executable file not found in $PATH"),
        new SyncMessage.Exec(new ExecSpec { Args = ["sh", "-c", "echo a b"], Env = ["A=1"], WorkingDir = "/tmp", User = "1:2" }),
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_decodes_to_what_was_sent(SyncMessage message)
    {
        var decoded = SyncMessage.Decode(message.Encode());
        Assert.Equal(message.GetType(), decoded.GetType());
        Assert.Equal(message.Encode(), decoded.Encode());
    }

    [Fact]
    public void A_failure_becomes_the_users_error_with_its_exit_code_and_garbage_is_named()
    {
        var failed = SyncMessage.Decode("error 126 exec: \"/etc\": is a directory").Unexpected("init");
        Assert.Equal((126, "exec: \"/etc\": is a directory"), (failed.ExitCode, failed.Message));
        var garbage = SyncMessage.Decode("pty x").Unexpected("init");
        Assert.Equal((125, "unexpected message from init: pty x"), (garbage.ExitCode, garbage.Message));
        // A multi-line error stays one line on the wire.
        Assert.DoesNotContain('\n', new SyncMessage.Failed(1, "a\nb").Encode());
    }
}
