/** The chat request body tests send when what they ask the model does not matter. */
export const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
