// Starts Swagger UI (vendor/swagger-ui, loaded just before this file) on /docs over this server's
// /openapi.json. A file, not an inline script: the server's CSP allows scripts from 'self' only.
(() => {
  const root = document.getElementById('swagger-ui');
  if (!root || typeof window.SwaggerUIBundle !== 'function') return;
  window.SwaggerUIBundle({
    url: root.dataset.url || '/openapi.json',
    domNode: root,
    deepLinking: true, // #/<tag>/<operationId> opens that operation; #problem-<slug> is left to the page
    displayOperationId: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 2,
    showExtensions: true,
    filter: true,
    tryItOutEnabled: false,
    validatorUrl: null, // the default badge asks validator.swagger.io: nothing may leave the machine
    persistAuthorization: false,
  });
})();
