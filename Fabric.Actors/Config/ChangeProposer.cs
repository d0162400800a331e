using Akka.Actor;
using Fabric.Messages.Config;

namespace Fabric.Actors.Config;

/// <summary>
/// The store did not answer a proposal in time. <paramref name="KnownNotJournaled"/>: it then
/// said it has no change with the key and will journal none; otherwise it still does not answer.
/// </summary>
public sealed record StoreSilent(string IdempotencyKey, bool KnownNotJournaled);

/// <summary>
/// Sends a normalized proposal to the config store and reports only what is known. The store
/// answers <see cref="ChangeAccepted"/>, <see cref="ChangeUnchanged"/> or <see cref="ChangeRefused"/>.
/// When it does not answer within the timeout, the proposer asks for the change by its
/// idempotency key: journaled (the answer is then the original <see cref="ChangeAccepted"/>), or
/// not and never will be (the store refuses the key from then on, and refuses the proposal past
/// its <see cref="ProposeChange.NotAfter"/>), or unknown because the store still does not answer
/// (<see cref="StoreSilent"/>: a retry with the same key tells).
/// </summary>
/// <param name="margin">How much earlier than the sender's own timeout the store must have read the
/// proposal (<c>fabric.management.propose-margin</c>; the shipped value when not given).</param>
public sealed class ChangeProposer(IActorRef store, TimeSpan timeout, TimeSpan lookupTimeout, TimeSpan? margin = null)
{
    private readonly TimeSpan _margin = margin ?? Settings.ManagementSettings.Default.ProposeMargin;

    public TimeSpan Timeout => timeout;

    /// <summary>The proposal's deadline for the store, given when it is sent.</summary>
    public DateTimeOffset NotAfter(DateTimeOffset sentAt) =>
        sentAt + (timeout > _margin * 2 ? timeout - _margin : timeout / 2);

    /// <summary>
    /// Sends <paramref name="command"/> (which carries its idempotency key) as a new attempt with
    /// its deadline; the store's reply or a <see cref="StoreSilent"/>.
    /// </summary>
    public async Task<object> ProposeAsync(ProposeChange command, CancellationToken ct)
    {
        if (command.IdempotencyKey is null)
            throw new ArgumentException("a proposal sent by the proposer carries an idempotency key", nameof(command));
        command = command with { NotAfter = NotAfter(DateTimeOffset.UtcNow), Attempt = Guid.NewGuid().ToString("N") };
        try
        {
            return await store.Ask<object>(command, timeout, ct);
        }
        catch (AskTimeoutException)
        {
        }

        try
        {
            var found = await store.Ask<object>(new FindChangeByKey(command.IdempotencyKey, command.Attempt), lookupTimeout, ct);
            return found switch
            {
                ChangeRecord change when change.Document == command.Document => new ChangeAccepted(change.ChangeId, change.BaseVersion),
                ChangeRecord change => new ChangeRefused(RefusalKind.IdempotencyKeyReused,
                    $"the idempotency key was used for change {change.ChangeId} with another document; use a new key for a new document", []),
                _ => new StoreSilent(command.IdempotencyKey, KnownNotJournaled: true),
            };
        }
        catch (AskTimeoutException)
        {
            return new StoreSilent(command.IdempotencyKey, KnownNotJournaled: false);
        }
    }
}
