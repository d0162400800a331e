using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors;
using Xunit;

namespace Fabric.Tests;

/// <summary>
/// <see cref="ActorProps.Of"/>: Props that call a delegate instead of compiling an expression per
/// element (issue 13, part 5). The actor gets its arguments, and a restart calls the delegate
/// again with the same captured arguments, as Props.Create's expression did.
/// </summary>
public sealed class ActorPropsTests() : TestKit("akka.loglevel = WARNING")
{
    private sealed class Echo : ReceiveActor
    {
        public Echo(string name, IActorRef probe)
        {
            probe.Tell($"started {name}");
            Receive<string>(s => s == "fail", _ => throw new InvalidOperationException("restart me"));
            Receive<string>(s => Sender.Tell($"{name}: {s}"));
        }
    }

    [Fact]
    public void An_actor_made_by_a_delegate_gets_its_arguments_and_is_made_again_with_them_on_restart()
    {
        var props = ActorProps.Of(() => new Echo("pe-a", TestActor));
        Assert.Equal(typeof(Echo), props.Type);
        var echo = Sys.ActorOf(props, "echo");
        ExpectMsg("started pe-a");
        echo.Tell("hello");
        ExpectMsg("pe-a: hello");

        EventFilter.Exception<InvalidOperationException>().ExpectOne(() => echo.Tell("fail"));
        ExpectMsg("started pe-a"); // the supervisor's restart called the delegate again
        echo.Tell("again");
        ExpectMsg("pe-a: again");
    }
}
