// @ts-check
import js from '@eslint/js';
import vitest from '@vitest/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Payload codecs are device makers' plain JavaScript, run in the codec sandbox, not in Node.
  {
    ignores: [
      'node_modules/',
      '.aws-sam/',
      '.local/',
      'coverage/',
      'codecs/',
      'test/fixtures/codecs/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      'no-console': 'error',
      // Leaving a field out of an object by destructuring it is an idiom, not an unused variable.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // A `let` assigned once, later, is how a closure refers to what is made after it.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: globals.node,
    },
  },
  {
    // The lifecycle page's script runs in the browser.
    files: ['local/lifecycle/page/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Scripts and the test suite may print; functions log through Powertools Logger only.
    files: ['scripts/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Asymmetric matchers (expect.stringContaining, ...) are typed any by design.
    files: ['test/**'],
    plugins: { vitest },
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // A focused or skipped test leaves the rest of the suite unrun or unnoticed.
      'vitest/no-focused-tests': 'error',
      'vitest/no-disabled-tests': 'error',
    },
  },
);
